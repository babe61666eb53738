import { OAuth2Client } from "arctic";
import { z } from "zod";
import type { MailAccess, Mailbox } from "@/lib/db/schema";
import { getEnv, type Env } from "@/lib/env";
import { AppError } from "@/lib/errors";

/**
 * Google and Microsoft as OAuth 2.0 authorization servers, on arctic's generic client with PKCE.
 * Every endpoint comes from configuration (defaults: the providers' public endpoints), so tests and
 * national clouds can point them elsewhere.
 */
export const OAUTH_PROVIDERS = ["google", "microsoft"] as const;
export type OAuthProviderName = (typeof OAUTH_PROVIDERS)[number];
export const oauthProviderSchema = z.enum(OAUTH_PROVIDERS);

/** Access paths an OAuth mailbox can use: the provider's mail API, or IMAP with XOAUTH2. */
export type OAuthAccess = Extract<MailAccess, "imap" | "gmail_api" | "graph_api">;

export const PROVIDER_LABEL: Record<OAuthProviderName, string> = { google: "Google", microsoft: "Microsoft" };

export function parseOAuthProvider(value: unknown): OAuthProviderName {
  const result = oauthProviderSchema.safeParse(value);
  if (!result.success) {
    throw new AppError(404, "unknown_provider", 'The OAuth provider must be "google" or "microsoft".');
  }
  return result.data;
}

export function defaultAccess(provider: OAuthProviderName): OAuthAccess {
  return provider === "google" ? "gmail_api" : "graph_api";
}

/** `api` / `imap` shorthands and the explicit names; anything that does not fit the provider is a 400. */
export function parseAccess(provider: OAuthProviderName, value: unknown): OAuthAccess {
  if (value === undefined || value === null || value === "" || value === "api") return defaultAccess(provider);
  if (value === "imap") return "imap";
  if (value === defaultAccess(provider)) return defaultAccess(provider);
  const allowed = `"${defaultAccess(provider)}" or "imap"`;
  throw new AppError(400, "invalid_access", `For ${PROVIDER_LABEL[provider]} the access must be ${allowed}.`, {
    fields: { access: `Must be ${allowed}.` },
  });
}

/**
 * The app registration used for a mailbox: the platform's from the environment, or the tenant's own
 * ("bring your own app", seed's per-mailbox oauth_client_id / oauth_client_secret_encrypted).
 */
export type OAuthApp = {
  clientId: string;
  /** null for a public client (PKCE only). */
  clientSecret: string | null;
  /** Microsoft only: the Entra tenant (id, domain, "organizations" or "common"). */
  tenantId?: string | null;
  /** True when the app came from the mailbox rather than from the environment. */
  custom: boolean;
};

export type ProviderEndpoints = {
  authorization: string;
  token: string;
  /** RFC 7009 revocation; Microsoft has none. */
  revocation: string | null;
  /** OpenID Connect userinfo. */
  userinfo: string | null;
};

/** Seed §7.3 scopes, plus OpenID for the connected address and what IMAP XOAUTH2 needs. */
const SCOPES: Record<OAuthProviderName, Record<"api" | "imap", string[]>> = {
  google: {
    api: [
      "openid",
      "email",
      "https://www.googleapis.com/auth/gmail.readonly",
      "https://www.googleapis.com/auth/gmail.modify",
    ],
    imap: ["openid", "email", "https://mail.google.com/"],
  },
  microsoft: {
    // One token can only carry scopes of one resource: Graph here, Outlook's IMAP below.
    api: ["openid", "email", "profile", "offline_access", "Mail.Read", "Mail.ReadWrite"],
    imap: ["openid", "email", "profile", "offline_access", "https://outlook.office.com/IMAP.AccessAsUser.All"],
  },
};

export function scopesFor(provider: OAuthProviderName, access: MailAccess): string[] {
  return [...SCOPES[provider][access === "imap" ? "imap" : "api"]];
}

/**
 * Issue 18: a Microsoft 365 shared (or delegated) mailbox is read through the signed-in admin's
 * token at /users/{address}; Mail.ReadWrite.Shared covers reading, marking read and moving there.
 */
export const SHARED_MAILBOX_SCOPE = "Mail.ReadWrite.Shared";

export function scopesForMailbox(provider: OAuthProviderName, access: MailAccess, kind: Mailbox["mailboxKind"]): string[] {
  const scopes = scopesFor(provider, access);
  return provider === "microsoft" && kind === "shared" ? [...scopes, SHARED_MAILBOX_SCOPE] : scopes;
}

/** Where an OAuth mailbox reaches the provider over IMAP. */
export const IMAP_ENDPOINTS: Record<OAuthProviderName, { host: string; port: number; useSsl: boolean }> = {
  google: { host: "imap.gmail.com", port: 993, useSsl: true },
  microsoft: { host: "outlook.office365.com", port: 993, useSsl: true },
};

const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.-]{0,99}$/;

export function isValidMicrosoftTenant(value: string): boolean {
  return TENANT_PATTERN.test(value);
}

export function endpointsFor(provider: OAuthProviderName, app: OAuthApp | null, env: Env = getEnv()): ProviderEndpoints {
  if (provider === "google") {
    return {
      authorization: env.GOOGLE_OAUTH_AUTHORIZATION_URL,
      token: env.GOOGLE_OAUTH_TOKEN_URL,
      revocation: env.GOOGLE_OAUTH_REVOCATION_URL,
      userinfo: env.GOOGLE_OAUTH_USERINFO_URL,
    };
  }
  const tenant = app?.tenantId || env.MICROSOFT_OAUTH_TENANT_ID;
  if (!isValidMicrosoftTenant(tenant)) {
    throw new AppError(400, "invalid_tenant_id", "The Microsoft tenant id is not valid.");
  }
  const base = `${env.MICROSOFT_OAUTH_AUTHORITY}/${encodeURIComponent(tenant)}/oauth2/v2.0`;
  return {
    authorization: `${base}/authorize`,
    token: `${base}/token`,
    revocation: null,
    userinfo: env.MICROSOFT_OAUTH_USERINFO_URL,
  };
}

export function redirectUriFor(provider: OAuthProviderName, env: Env = getEnv()): string {
  const configured = provider === "google" ? env.GOOGLE_OAUTH_REDIRECT_URI : env.MICROSOFT_OAUTH_REDIRECT_URI;
  return configured ?? `${env.APP_URL}/api/oauth/${provider}/callback`;
}

/** The platform's app from the environment, or null when this deployment has none for the provider. */
export function platformApp(provider: OAuthProviderName, env: Env = getEnv()): OAuthApp | null {
  const clientId = provider === "google" ? env.GOOGLE_OAUTH_CLIENT_ID : env.MICROSOFT_OAUTH_CLIENT_ID;
  const clientSecret = provider === "google" ? env.GOOGLE_OAUTH_CLIENT_SECRET : env.MICROSOFT_OAUTH_CLIENT_SECRET;
  if (!clientId) return null;
  return { clientId, clientSecret: clientSecret ?? null, tenantId: null, custom: false };
}

export function createOAuthClient(provider: OAuthProviderName, app: OAuthApp): OAuth2Client {
  return new OAuth2Client(app.clientId, app.clientSecret, redirectUriFor(provider));
}

/** Extra authorization parameters so that a refresh token is issued every time. */
export function extraAuthorizationParams(provider: OAuthProviderName): Record<string, string> {
  if (provider === "google") {
    // Without prompt=consent Google issues a refresh token only on the very first consent.
    return { access_type: "offline", prompt: "consent", include_granted_scopes: "true" };
  }
  // offline_access (a scope) is what makes Microsoft issue a refresh token.
  return { prompt: "select_account" };
}
