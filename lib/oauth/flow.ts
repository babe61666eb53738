import { randomBytes } from "node:crypto";
import { CodeChallengeMethod, generateCodeVerifier } from "arctic";
import { z } from "zod";
import { getSecretBox } from "@/lib/crypto/secret-box";
import { recordMailboxEvent } from "@/lib/db/queries/mailbox-events";
import { getMailbox, saveMailbox, updateMailboxAndNotify } from "@/lib/db/queries/mailboxes";
import { consumeOAuthFlow, createOAuthFlow } from "@/lib/db/queries/oauth-flows";
import type { Mailbox } from "@/lib/db/schema";
import type { EmailType } from "@/lib/email/email-type";
import { getEnv } from "@/lib/env";
import { AppError } from "@/lib/errors";
import type { Logger } from "@/lib/logger";
import { findConnectedEmail } from "./identity";
import { appForMailbox, notConfiguredMessage } from "./mailbox-app";
import {
  createOAuthClient,
  endpointsFor,
  extraAuthorizationParams,
  IMAP_ENDPOINTS,
  isValidMicrosoftTenant,
  OAUTH_PROVIDER_SPECS,
  platformApp,
  PROVIDER_LABEL,
  scopesForMailbox,
  type OAuthAccess,
  type OAuthApp,
  type OAuthProviderName,
} from "./providers";
import { OAuthStateError, sessionBinding, signOAuthState, STATE_TTL_SECONDS, verifyOAuthState, type StateFailure } from "./state";
import { classifyOAuthError, parseTokenResponse, withTimeout, type TokenSet } from "./token-response";

/* ------------------------------------------------------------------------------------------------
 * Authorize: seed §4.1 POST /api/oauth/{provider}/authorize
 * ---------------------------------------------------------------------------------------------- */

/** The tenant's own app registration, as typed in the settings form. null = use the platform's app. */
export type CustomAppInput = {
  client_id?: string | null | undefined;
  client_secret?: string | null | undefined;
  tenant_id?: string | null | undefined;
};

/** What the flow row keeps encrypted: never in a URL, never in the browser. */
const flowSecretsSchema = z.object({
  v: z.string().min(43).max(128),
  app: z.object({
    id: z.string().min(1),
    secret: z.string().nullable(),
    tenant: z.string().nullable(),
    custom: z.boolean(),
  }),
  /** Issue 18: the shared mailbox the signed-in admin will read (Microsoft only). */
  shared: z.string().optional(),
});
type FlowSecrets = z.infer<typeof flowSecretsSchema>;

function resolveApp(provider: OAuthProviderName, mailbox: Mailbox | null, input: CustomAppInput): OAuthApp {
  const sameProvider = mailbox?.oauthProvider === provider;
  const tenantInput = OAUTH_PROVIDER_SPECS[provider].hasDirectoryTenant ? input.tenant_id : undefined;
  if (tenantInput && !isValidMicrosoftTenant(tenantInput)) {
    throw new AppError(400, "validation_failed", "Some fields are invalid.", {
      fields: { tenant_id: "A Microsoft tenant id is a GUID or a domain name." },
    });
  }
  const storedTenant = sameProvider && OAUTH_PROVIDER_SPECS[provider].hasDirectoryTenant ? mailbox.oauthTenantId : null;
  const tenantId = tenantInput === undefined ? storedTenant : tenantInput || null;

  if (typeof input.client_id === "string" && input.client_id.trim() !== "") {
    const clientId = input.client_id.trim();
    const sameApp = sameProvider && mailbox.oauthClientId === clientId;
    // As with passwords: an omitted secret keeps the stored one of the same app.
    const storedSecret = sameApp && mailbox.oauthClientSecretEncrypted ? getSecretBox().decrypt(mailbox.oauthClientSecretEncrypted) : null;
    const clientSecret = input.client_secret === undefined ? storedSecret : input.client_secret || null;
    return { clientId, clientSecret, tenantId, custom: true };
  }
  if (input.client_id === undefined && sameProvider && mailbox.oauthClientId) {
    const stored = appForMailbox(provider, mailbox);
    if (stored) return { ...stored, tenantId };
  }
  const app = platformApp(provider);
  if (!app) throw new AppError(400, "oauth_not_configured", notConfiguredMessage(provider));
  return { ...app, tenantId };
}

export async function startAuthorization(params: {
  provider: OAuthProviderName;
  tenantId: string;
  sessionId: string;
  emailType: EmailType;
  access: OAuthAccess;
  app: CustomAppInput;
  /** Issue 18: connect this shared mailbox through the signing-in account (Microsoft Graph only). */
  sharedAddress?: string | undefined;
}): Promise<{ authorization_url: string; state: string }> {
  const { provider, emailType, access } = params;
  if (params.sharedAddress && (provider !== "microsoft" || access !== "graph_api")) {
    throw new AppError(400, "invalid_mailbox_kind", "Shared mailboxes are read through Microsoft Graph: choose Microsoft with API access.", {
      fields: { mailbox_kind: "Shared mailboxes need Microsoft with API access." },
    });
  }
  const mailbox = await getMailbox({ tenantId: params.tenantId, purpose: emailType });
  const app = resolveApp(provider, mailbox, params.app);
  const endpoints = endpointsFor(provider, app);
  const flowId = randomBytes(24).toString("base64url");
  const codeVerifier = generateCodeVerifier();
  const secrets: FlowSecrets = {
    v: codeVerifier,
    app: { id: app.clientId, secret: app.clientSecret, tenant: app.tenantId ?? null, custom: app.custom },
    ...(params.sharedAddress ? { shared: params.sharedAddress } : {}),
  };
  await createOAuthFlow({
    id: flowId,
    tenantId: params.tenantId,
    sessionId: params.sessionId,
    provider,
    purpose: emailType,
    access,
    secretsEncrypted: getSecretBox().encrypt(JSON.stringify(secrets)),
    expiresAt: new Date(Date.now() + STATE_TTL_SECONDS * 1000),
  });
  const state = await signOAuthState({ flowId, provider, emailType, sessionBinding: sessionBinding(params.sessionId) });
  const url = createOAuthClient(provider, app).createAuthorizationURLWithPKCE(
    endpoints.authorization,
    state,
    CodeChallengeMethod.S256,
    codeVerifier,
    scopesForMailbox(provider, access, params.sharedAddress ? "shared" : "own"),
  );
  for (const [key, value] of Object.entries(extraAuthorizationParams(provider))) url.searchParams.set(key, value);
  const hint = mailbox?.oauthProvider === provider ? mailbox.oauthConnectedEmail : null;
  if (hint) url.searchParams.set("login_hint", hint);
  return { authorization_url: url.toString(), state };
}

/* ------------------------------------------------------------------------------------------------
 * Callback: seed §4.1 GET /api/oauth/{provider}/callback
 * ---------------------------------------------------------------------------------------------- */

export type CallbackResult = {
  success: boolean;
  message: string;
  connected_email: string | null;
  email_type: EmailType | null;
  /** HTTP status for the JSON answer; not part of the body. */
  status: number;
  /** Machine-readable reason for failures. */
  code: string | null;
};

const callbackQuerySchema = z.object({
  code: z.string().min(1).max(4096).optional(),
  state: z.string().min(1).max(4096).optional(),
  error: z.string().max(200).optional(),
});

function failure(status: number, code: string, message: string, emailType: EmailType | null = null): CallbackResult {
  return { success: false, message, connected_email: null, email_type: emailType, status, code };
}

const STATE_MESSAGES: Record<StateFailure | "used" | "not_found", { status: number; code: string; message: string }> = {
  invalid: { status: 400, code: "invalid_state", message: "This sign-in response is not valid. Start the connection again from the settings page." },
  not_found: { status: 400, code: "invalid_state", message: "This sign-in response is not valid. Start the connection again from the settings page." },
  wrong_provider: { status: 400, code: "invalid_state", message: "This sign-in response belongs to another provider. Start the connection again." },
  expired: { status: 400, code: "state_expired", message: "This sign-in took longer than 10 minutes and has expired. Start the connection again." },
  wrong_session: { status: 403, code: "state_session_mismatch", message: "This sign-in was started in another login session. Start the connection again from this browser." },
  used: { status: 409, code: "state_used", message: "This sign-in response was already used. Start the connection again if you need to." },
};

function providerErrorMessage(provider: OAuthProviderName, error: string): CallbackResult {
  const label = PROVIDER_LABEL[provider];
  // The error code comes from the URL: only a plain code is repeated back, never free text.
  const code = /^[a-z_]{1,64}$/.test(error) ? error : "provider_error";
  if (code === "access_denied" || code === "consent_required") {
    return failure(400, "access_denied", `Access was not granted at ${label}, so the mailbox was not changed.`);
  }
  return failure(400, code, `${label} could not complete the sign-in (${code}). The mailbox was not changed.`);
}

/** Google lets the user untick scopes on the consent screen: without mail access the connection is useless. */
function missingScope(provider: OAuthProviderName, access: OAuthAccess, granted: string[] | null): boolean {
  const required = OAUTH_PROVIDER_SPECS[provider].requiredScopes;
  if (!required || !granted) return false;
  return !required[access === "imap" ? "imap" : "api"].some((scope) => granted.includes(scope));
}

export async function completeAuthorization(params: {
  provider: OAuthProviderName;
  query: URLSearchParams;
  session: { sessionId: string; tenantId: string } | null;
  log: Logger;
}): Promise<CallbackResult> {
  const { provider, session, log } = params;
  const label = PROVIDER_LABEL[provider];
  const parsedQuery = callbackQuerySchema.safeParse(Object.fromEntries(params.query));
  if (!parsedQuery.success) return failure(400, "invalid_request", "The sign-in response is malformed. Start the connection again.");
  const query = parsedQuery.data;
  if (!session) return failure(401, "unauthorized", "Your login session has ended. Log in again, then connect the mailbox.");
  if (!query.state) return failure(400, "invalid_state", STATE_MESSAGES.invalid.message);

  let claims;
  try {
    claims = await verifyOAuthState(query.state, { provider, sessionId: session.sessionId });
  } catch (err) {
    const reason = err instanceof OAuthStateError ? err.reason : "invalid";
    const m = STATE_MESSAGES[reason];
    return failure(m.status, m.code, m.message);
  }
  const consumed = await consumeOAuthFlow({ id: claims.flowId, sessionId: session.sessionId, tenantId: session.tenantId, provider });
  if (!consumed.ok) {
    const m = STATE_MESSAGES[consumed.reason];
    return failure(m.status, m.code, m.message, claims.emailType);
  }
  const flow = consumed.flow;
  const emailType = flow.purpose;
  const access = flow.access as OAuthAccess;
  if (query.error) return { ...providerErrorMessage(provider, query.error), email_type: emailType };
  if (!query.code) return failure(400, "missing_code", `${label} did not send an authorization code. Start the connection again.`, emailType);

  let secrets: FlowSecrets;
  try {
    secrets = flowSecretsSchema.parse(JSON.parse(getSecretBox().decrypt(flow.codeVerifierEncrypted)));
  } catch (err) {
    log.error({ err: { name: (err as Error).name } }, "oauth flow secrets unreadable");
    return failure(500, "internal_error", "Something went wrong. Start the connection again.", emailType);
  }
  const app: OAuthApp = { clientId: secrets.app.id, clientSecret: secrets.app.secret, tenantId: secrets.app.tenant, custom: secrets.app.custom };
  const endpoints = endpointsFor(provider, app);
  const timeoutMs = getEnv().OAUTH_HTTP_TIMEOUT_SECONDS * 1000;

  let tokens: TokenSet;
  try {
    const response = await withTimeout(
      createOAuthClient(provider, app).validateAuthorizationCode(endpoints.token, query.code, secrets.v),
      timeoutMs,
      "The token endpoint",
    );
    tokens = parseTokenResponse(response);
  } catch (err) {
    const f = classifyOAuthError(err);
    log.warn({ event: "oauth_code_exchange_failed", provider, kind: f.kind, code: f.code }, "authorization code exchange failed");
    if (f.kind === "grant") {
      return failure(400, "invalid_code", `${label} did not accept the sign-in (the code was invalid or expired). Start the connection again.`, emailType);
    }
    if (f.kind === "client") {
      return failure(502, "oauth_client_rejected", `${label} refused the OAuth app's credentials (${f.code}). Check the client id and secret.`, emailType);
    }
    if (f.kind === "network") return failure(502, "provider_unreachable", `${label} could not be reached. Try again in a moment.`, emailType);
    return failure(502, "oauth_failed", `${label} could not complete the sign-in (${f.code}).`, emailType);
  }

  if (missingScope(provider, access, tokens.scopes)) {
    return failure(400, "scope_denied", `${label} did not grant access to the mailbox. Connect again and allow mail access.`, emailType);
  }
  const connectedEmail = await findConnectedEmail({ provider, tokens, clientId: app.clientId, endpoints, access });
  if (!connectedEmail) {
    return failure(502, "no_email", `${label} did not tell us which address was connected. The mailbox was not changed.`, emailType);
  }

  const existing = await getMailbox({ tenantId: session.tenantId, purpose: emailType });
  // Issue 18: a shared mailbox keeps its own address; the signed-in account is only the way in.
  const sharedAddress = provider === "microsoft" && access === "graph_api" ? (secrets.shared ?? null) : null;
  const mailboxKind = sharedAddress ? "shared" : "own";
  const address = sharedAddress ?? connectedEmail;
  const sameAccount =
    existing?.oauthProvider === provider &&
    existing.oauthConnectedEmail === connectedEmail &&
    existing.access === access &&
    existing.mailboxKind === mailboxKind &&
    (existing.address ?? "").toLowerCase() === address.toLowerCase();
  let refreshTokenEncrypted = tokens.refreshToken ? getSecretBox().encrypt(tokens.refreshToken) : null;
  // Some providers send a refresh token only on first consent: keep the one of the same grant.
  if (!refreshTokenEncrypted && sameAccount && existing.oauthClientId === (app.custom ? app.clientId : null)) {
    refreshTokenEncrypted = existing.oauthRefreshTokenEncrypted;
  }
  if (!refreshTokenEncrypted) {
    return failure(
      502,
      "no_refresh_token",
      `${label} did not issue a refresh token, so the connection could not stay alive. Remove this app's access in your ${label} account and connect again.`,
      emailType,
    );
  }

  const box = getSecretBox();
  const keepProviderSettings = existing?.oauthProvider === provider && existing.authMethod === "oauth2";
  const imap = access === "imap" ? IMAP_ENDPOINTS[provider] : null;
  const saved = await saveMailbox({
    tenantId: session.tenantId,
    purpose: emailType,
    fields: {
      provider,
      access,
      host: imap?.host ?? null,
      port: imap?.port ?? 993,
      useSsl: true,
      allowInvalidCertificate: false,
      address,
      username: connectedEmail,
      mailboxKind,
      serviceAccountKeyEncrypted: null,
      authMethod: "oauth2",
      // The mailbox now signs in with OAuth; an old password has no use and is not kept.
      passwordEncrypted: null,
      useIdle: existing?.useIdle ?? true,
      folder: keepProviderSettings ? existing.folder : "INBOX",
      enabled: true,
      oauthProvider: provider,
      oauthClientId: app.custom ? app.clientId : null,
      oauthClientSecretEncrypted: app.custom && app.clientSecret ? box.encrypt(app.clientSecret) : null,
      oauthTenantId: OAUTH_PROVIDER_SPECS[provider].hasDirectoryTenant ? (app.tenantId ?? null) : null,
      oauthAccessTokenEncrypted: box.encrypt(tokens.accessToken),
      oauthRefreshTokenEncrypted: refreshTokenEncrypted,
      oauthTokenExpiry: tokens.expiresAt,
      oauthScopes: tokens.scopes ?? scopesForMailbox(provider, access, mailboxKind),
      oauthConnectedEmail: connectedEmail,
      ...(sameAccount ? {} : { syncState: {} }),
    },
  });
  const connectedMessage = sharedAddress ? `Connected the shared mailbox ${sharedAddress} through ${connectedEmail} with ${label}.` : `Connected ${connectedEmail} with ${label}.`;
  await recordMailboxEvent({ mailboxId: saved.id, kind: "connected", message: connectedMessage });
  log.info({ event: "oauth_connected", provider, email_type: emailType, access, custom_app: app.custom }, "mailbox connected by OAuth");
  return {
    success: true,
    message: connectedMessage,
    connected_email: connectedEmail,
    email_type: emailType,
    status: 200,
    code: null,
  };
}

/* ------------------------------------------------------------------------------------------------
 * Disconnect: seed §4.1 DELETE /api/oauth/{provider}/disconnect
 * ---------------------------------------------------------------------------------------------- */

export async function disconnectOAuth(params: {
  provider: OAuthProviderName;
  tenantId: string;
  emailType: EmailType;
  log: Logger;
}): Promise<{ success: true; revoked: boolean }> {
  const { provider, log } = params;
  const label = PROVIDER_LABEL[provider];
  const mailbox = await getMailbox({ tenantId: params.tenantId, purpose: params.emailType });
  if (!mailbox || mailbox.oauthProvider === null) {
    throw new AppError(404, "not_connected", `This mailbox is not connected with ${label}.`);
  }
  if (mailbox.oauthProvider !== provider) {
    throw new AppError(409, "provider_mismatch", `This mailbox is connected with ${PROVIDER_LABEL[mailbox.oauthProvider as OAuthProviderName] ?? mailbox.oauthProvider}, not ${label}.`);
  }

  let revoked = false;
  const endpoints = endpointsFor(provider, null);
  const tokenEncrypted = mailbox.oauthRefreshTokenEncrypted ?? mailbox.oauthAccessTokenEncrypted;
  if (endpoints.revocation && tokenEncrypted) {
    // Revoking the refresh token ends the whole grant at Google. Failing to revoke is not fatal:
    // the tokens are erased here either way.
    try {
      const app = appForMailbox(provider, mailbox);
      if (app) {
        const token = getSecretBox().decrypt(tokenEncrypted);
        await withTimeout(
          createOAuthClient(provider, app).revokeToken(endpoints.revocation, token),
          getEnv().OAUTH_HTTP_TIMEOUT_SECONDS * 1000,
          "The revocation endpoint",
        );
        revoked = true;
      }
    } catch (err) {
      const f = classifyOAuthError(err);
      log.warn({ event: "oauth_revoke_failed", provider, kind: f.kind, code: f.code }, "token revocation failed; erasing locally");
    }
  }

  await updateMailboxAndNotify({
    mailboxId: mailbox.id,
    tenantId: params.tenantId,
    fields: {
      oauthAccessTokenEncrypted: null,
      oauthRefreshTokenEncrypted: null,
      oauthTokenExpiry: null,
      oauthScopes: [],
      oauthConnectedEmail: null,
      // Issue 18: an organisation mailbox's credentials go too (nothing to revoke at the provider).
      ...(mailbox.mailboxKind === "app_only" ? { oauthClientSecretEncrypted: null } : {}),
      ...(mailbox.mailboxKind === "delegated" ? { serviceAccountKeyEncrypted: null } : {}),
      enabled: false,
      status: "disconnected",
      lastError: null,
      lastErrorCode: null,
    },
  });
  await recordMailboxEvent({
    mailboxId: mailbox.id,
    kind: "disconnected",
    message: `Disconnected from ${label}${revoked ? " and revoked access" : ""}.`,
  });
  log.info({ event: "oauth_disconnected", provider, email_type: params.emailType, revoked }, "mailbox OAuth disconnected");
  return { success: true, revoked };
}
