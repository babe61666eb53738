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

export function parseOAuthProvider(value: unknown): OAuthProviderName {
  const result = oauthProviderSchema.safeParse(value);
  if (!result.success) {
    throw new AppError(404, "unknown_provider", 'The OAuth provider must be "google" or "microsoft".');
  }
  return result.data;
}

export function defaultAccess(provider: OAuthProviderName): OAuthAccess {
  return OAUTH_PROVIDER_SPECS[provider].apiAccess;
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

export function scopesFor(provider: OAuthProviderName, access: MailAccess): string[] {
  return [...OAUTH_PROVIDER_SPECS[provider].scopes[access === "imap" ? "imap" : "api"]];
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

const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.-]{0,99}$/;

export function isValidMicrosoftTenant(value: string): boolean {
  return TENANT_PATTERN.test(value);
}

export function endpointsFor(provider: OAuthProviderName, app: OAuthApp | null, env: Env = getEnv()): ProviderEndpoints {
  return OAUTH_PROVIDER_SPECS[provider].endpoints(env, app);
}

/** The platform app's variables: {PREFIX}_OAUTH_CLIENT_ID, _CLIENT_SECRET, _REDIRECT_URI. */
function envApp(provider: OAuthProviderName, env: Env): { clientId: string | undefined; clientSecret: string | undefined; redirectUri: string | undefined } {
  const prefix = OAUTH_PROVIDER_SPECS[provider].envPrefix;
  return {
    clientId: env[`${prefix}_OAUTH_CLIENT_ID`],
    clientSecret: env[`${prefix}_OAUTH_CLIENT_SECRET`],
    redirectUri: env[`${prefix}_OAUTH_REDIRECT_URI`],
  };
}

export function redirectUriFor(provider: OAuthProviderName, env: Env = getEnv()): string {
  return envApp(provider, env).redirectUri ?? `${env.APP_URL}/api/oauth/${provider}/callback`;
}

/** The platform's app from the environment, or null when this deployment has none for the provider. */
export function platformApp(provider: OAuthProviderName, env: Env = getEnv()): OAuthApp | null {
  const { clientId, clientSecret } = envApp(provider, env);
  if (!clientId) return null;
  return { clientId, clientSecret: clientSecret ?? null, tenantId: null, custom: false };
}

export function createOAuthClient(provider: OAuthProviderName, app: OAuthApp): OAuth2Client {
  return new OAuth2Client(app.clientId, app.clientSecret, redirectUriFor(provider));
}

/** Extra authorization parameters so that a refresh token is issued every time. */
export function extraAuthorizationParams(provider: OAuthProviderName): Record<string, string> {
  return { ...OAUTH_PROVIDER_SPECS[provider].authorizationParams };
}

/** What differs between the providers, in one place; the code above and in ./ reads only this. */
export type OAuthProviderSpec = {
  label: string;
  /** The mail API an OAuth mailbox of this provider uses unless it picks IMAP. */
  apiAccess: "gmail_api" | "graph_api";
  /** Seed §7.3 scopes, plus OpenID for the connected address and what IMAP XOAUTH2 needs. */
  scopes: { api: readonly string[]; imap: readonly string[] };
  imap: { host: string; port: number; useSsl: boolean };
  /** The variable prefix of the platform app (GOOGLE_OAUTH_*, MICROSOFT_OAUTH_*). */
  envPrefix: "GOOGLE" | "MICROSOFT";
  endpoints: (env: Env, app: OAuthApp | null) => ProviderEndpoints;
  authorizationParams: Readonly<Record<string, string>>;
  /** An app registration lives in a directory tenant (Entra), saved per mailbox. */
  hasDirectoryTenant: boolean;
  /** A refresh must name the scopes again (Microsoft's v2 endpoint); Google refreshes the grant as consented. */
  refreshSendsScopes: boolean;
  /**
   * The consent screen lets the user untick scopes: the mail access needs one of these sets, checked
   * against what was granted. null: the grant is all or nothing.
   */
  requiredScopes: { api: readonly string[]; imap: readonly string[] } | null;
  /** Whether OpenID userinfo accepts a token of this access (a Microsoft IMAP token is for Outlook, not Graph). */
  userinfoAccepts: (access: OAuthAccess) => boolean;
  /** Whether the mail API's profile accepts a token of this access. */
  mailApiAccepts: (access: OAuthAccess) => boolean;
};

export const OAUTH_PROVIDER_SPECS: Record<OAuthProviderName, OAuthProviderSpec> = {
  google: {
    label: "Google",
    apiAccess: "gmail_api",
    scopes: {
      api: ["openid", "email", "https://www.googleapis.com/auth/gmail.readonly", "https://www.googleapis.com/auth/gmail.modify"],
      imap: ["openid", "email", "https://mail.google.com/"],
    },
    imap: { host: "imap.gmail.com", port: 993, useSsl: true },
    envPrefix: "GOOGLE",
    endpoints: (env) => ({
      authorization: env.GOOGLE_OAUTH_AUTHORIZATION_URL,
      token: env.GOOGLE_OAUTH_TOKEN_URL,
      revocation: env.GOOGLE_OAUTH_REVOCATION_URL,
      userinfo: env.GOOGLE_OAUTH_USERINFO_URL,
    }),
    // Without prompt=consent Google issues a refresh token only on the very first consent.
    authorizationParams: { access_type: "offline", prompt: "consent", include_granted_scopes: "true" },
    hasDirectoryTenant: false,
    refreshSendsScopes: false,
    // https://mail.google.com/ covers both; gmail.modify is enough for the API.
    requiredScopes: { api: ["https://mail.google.com/", "https://www.googleapis.com/auth/gmail.modify"], imap: ["https://mail.google.com/"] },
    userinfoAccepts: () => true,
    // Google's https://mail.google.com/ can call Gmail.
    mailApiAccepts: () => true,
  },
  microsoft: {
    label: "Microsoft",
    apiAccess: "graph_api",
    scopes: {
      // One token can only carry scopes of one resource: Graph here, Outlook's IMAP below.
      api: ["openid", "email", "profile", "offline_access", "Mail.Read", "Mail.ReadWrite"],
      imap: ["openid", "email", "profile", "offline_access", "https://outlook.office.com/IMAP.AccessAsUser.All"],
    },
    imap: { host: "outlook.office365.com", port: 993, useSsl: true },
    envPrefix: "MICROSOFT",
    endpoints: (env, app) => {
      const tenant = app?.tenantId || env.MICROSOFT_OAUTH_TENANT_ID;
      if (!isValidMicrosoftTenant(tenant)) {
        throw new AppError(400, "invalid_tenant_id", "The Microsoft tenant id is not valid.");
      }
      const base = `${env.MICROSOFT_OAUTH_AUTHORITY}/${encodeURIComponent(tenant)}/oauth2/v2.0`;
      return { authorization: `${base}/authorize`, token: `${base}/token`, revocation: null, userinfo: env.MICROSOFT_OAUTH_USERINFO_URL };
    },
    // offline_access (a scope) is what makes Microsoft issue a refresh token.
    authorizationParams: { prompt: "select_account" },
    hasDirectoryTenant: true,
    refreshSendsScopes: true,
    requiredScopes: null,
    // A Microsoft token for Outlook's IMAP resource can't call Graph (neither userinfo nor /me).
    userinfoAccepts: (access) => access === "graph_api",
    mailApiAccepts: (access) => access !== "imap",
  },
};

export const PROVIDER_LABEL: Record<OAuthProviderName, string> = {
  google: OAUTH_PROVIDER_SPECS.google.label,
  microsoft: OAUTH_PROVIDER_SPECS.microsoft.label,
};

/** Where an OAuth mailbox reaches the provider over IMAP. */
export const IMAP_ENDPOINTS: Record<OAuthProviderName, { host: string; port: number; useSsl: boolean }> = {
  google: OAUTH_PROVIDER_SPECS.google.imap,
  microsoft: OAUTH_PROVIDER_SPECS.microsoft.imap,
};
