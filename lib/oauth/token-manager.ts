import { getSecretBox } from "@/lib/crypto/secret-box";
import { getMailboxTokens, withMailboxTokenLock, type MailboxTokenRow } from "@/lib/db/queries/oauth-tokens";
import type { Mailbox } from "@/lib/db/schema";
import { accessTokenSourceFrom, MailError, type AccessTokenInfo, type AccessTokenSource } from "@/lib/email/provider";
import { getEnv } from "@/lib/env";
import { getLogger } from "@/lib/logger";
import { appForMailbox } from "./mailbox-app";
import { createOAuthClient, endpointsFor, OAUTH_PROVIDER_SPECS, oauthProviderSchema, PROVIDER_LABEL, scopesForMailbox, type OAuthProviderName } from "./providers";
import { classifyOAuthError, parseTokenResponse, withTimeout, type OAuthFailure } from "./token-response";

/**
 * Seed §5.3 refresh_token_if_needed, for both processes:
 * - a token is refreshed OAUTH_REFRESH_SKEW_SECONDS (default 5 min) before it expires;
 * - one refresh per mailbox at a time: an in-process map of running refreshes, plus the mailbox
 *   row lock (SELECT ... FOR UPDATE) so the web process and watchers never both refresh;
 * - a rotated refresh token is always stored, in the same transaction as the access token;
 * - invalid_grant (revoked, expired, consent withdrawn) erases the dead tokens and throws
 *   needs_reauth (with the provider's refusal as eventMessage); later calls fail at once without
 *   asking the provider. The caller's mailbox connection writes the status and the auth_failed
 *   event: it is the only writer of mailbox status;
 * - an unreachable or failing provider is a network error, never an auth failure.
 */

export type { AccessTokenInfo };

export type GetAccessTokenOptions = {
  /** The provider rejected the current token (401): get a new one unless someone already did. */
  forceRefresh?: boolean;
  /** The token that was rejected; a different current token means another caller already refreshed. */
  rejectedToken?: string;
};

const inflight = new Map<string, Promise<AccessTokenInfo>>();
const refreshListeners = new Set<() => void>();

/** Lets the watcher count refreshes (oauth_token_refreshes_total) without this module knowing metrics. */
export function onTokenRefreshed(listener: () => void): () => void {
  refreshListeners.add(listener);
  return () => refreshListeners.delete(listener);
}
/** Forced refreshes per mailbox are spaced out, so a provider that keeps answering 401 can't cause a storm. */
const lastForcedRefreshAt = new Map<string, number>();
const MIN_FORCED_REFRESH_INTERVAL_MS = 10_000;
const LOCK_TIMEOUT_MS = 30_000;

function skewMs(): number {
  return getEnv().OAUTH_REFRESH_SKEW_SECONDS * 1000;
}

function expiresSoon(expiry: Date | null, now = Date.now()): boolean {
  // Unknown expiry: use the token until the provider rejects it (forceRefresh).
  return expiry !== null && expiry.getTime() - now <= skewMs();
}

function providerOf(row: MailboxTokenRow): OAuthProviderName {
  const parsed = oauthProviderSchema.safeParse(row.oauthProvider);
  if (row.authMethod !== "oauth2" || !parsed.success) {
    throw new MailError("needs_reauth", "The mailbox is not connected by OAuth.");
  }
  return parsed.data;
}

function reconnectMessage(provider: OAuthProviderName): string {
  return `Access to the mailbox was revoked or has expired. Reconnect it with ${PROVIDER_LABEL[provider]}.`;
}

function decryptOrReauth(token: string, provider: OAuthProviderName): string {
  try {
    return getSecretBox().decrypt(token);
  } catch (err) {
    throw new MailError("needs_reauth", `The stored authorization can't be decrypted (encryption keys changed). Reconnect it with ${PROVIDER_LABEL[provider]}.`, { cause: err });
  }
}

/** The current access token of an OAuth mailbox, refreshed first when it is about to expire. */
export async function getAccessToken(mailboxId: string, opts: GetAccessTokenOptions = {}): Promise<AccessTokenInfo> {
  const row = await getMailboxTokens({ mailboxId });
  if (!row) throw new MailError("config", "The mailbox no longer exists.");
  const provider = providerOf(row);
  if (!row.oauthRefreshTokenEncrypted && !row.oauthAccessTokenEncrypted) {
    throw new MailError("needs_reauth", reconnectMessage(provider));
  }
  const current = row.oauthAccessTokenEncrypted ? decryptOrReauth(row.oauthAccessTokenEncrypted, provider) : null;
  if (current && !expiresSoon(row.oauthTokenExpiry)) {
    if (!opts.forceRefresh) return { accessToken: current, expiresAt: row.oauthTokenExpiry };
    // Someone refreshed since the caller got its token: the new one has not been tried yet.
    if (opts.rejectedToken !== undefined && opts.rejectedToken !== current) {
      return { accessToken: current, expiresAt: row.oauthTokenExpiry };
    }
    const last = lastForcedRefreshAt.get(mailboxId) ?? 0;
    if (Date.now() - last < MIN_FORCED_REFRESH_INTERVAL_MS) return { accessToken: current, expiresAt: row.oauthTokenExpiry };
  }

  const running = inflight.get(mailboxId);
  if (running) return running;
  const force = opts.forceRefresh === true && !!current && !expiresSoon(row.oauthTokenExpiry);
  if (force) lastForcedRefreshAt.set(mailboxId, Date.now());
  const refresh = refreshUnderLock(mailboxId, { seenAccessTokenEncrypted: row.oauthAccessTokenEncrypted, force }).finally(
    () => inflight.delete(mailboxId),
  );
  inflight.set(mailboxId, refresh);
  return refresh;
}

type LockedOutcome =
  | { ok: true; info: AccessTokenInfo; refreshed: boolean }
  | { ok: false; provider: OAuthProviderName; failure: OAuthFailure; tokensErased: boolean };

async function refreshUnderLock(
  mailboxId: string,
  opts: { seenAccessTokenEncrypted: string | null; force: boolean },
): Promise<AccessTokenInfo> {
  const env = getEnv();
  let outcome: LockedOutcome;
  try {
    outcome = await withMailboxTokenLock({ mailboxId, lockTimeoutMs: LOCK_TIMEOUT_MS }, async (row, actions) => {
      if (!row) throw new MailError("config", "The mailbox no longer exists.");
      const provider = providerOf(row);
      const box = getSecretBox();
      const current = row.oauthAccessTokenEncrypted ? decryptOrReauth(row.oauthAccessTokenEncrypted, provider) : null;
      const changedMeanwhile = row.oauthAccessTokenEncrypted !== opts.seenAccessTokenEncrypted;
      // Another process refreshed while we waited for the lock, or nothing is due after all.
      if (current && !expiresSoon(row.oauthTokenExpiry) && (changedMeanwhile || !opts.force)) {
        return { ok: true, info: { accessToken: current, expiresAt: row.oauthTokenExpiry }, refreshed: false };
      }
      if (!row.oauthRefreshTokenEncrypted) {
        return { ok: false, provider, failure: { kind: "grant", code: "no_refresh_token" }, tokensErased: false };
      }
      const refreshToken = decryptOrReauth(row.oauthRefreshTokenEncrypted, provider);
      const app = appForMailbox(provider, row);
      if (!app) return { ok: false, provider, failure: { kind: "client", code: "not_configured" }, tokensErased: false };
      const client = createOAuthClient(provider, app);
      const endpoints = endpointsFor(provider, app);
      // Google refreshes the grant as it was consented; Microsoft's v2 endpoint wants the scopes again.
      // A shared mailbox's grant includes Mail.ReadWrite.Shared (issue 18): ask for it again too.
      const scopes = OAUTH_PROVIDER_SPECS[provider].refreshSendsScopes ? scopesForMailbox(provider, row.access, row.mailboxKind) : [];
      let tokens;
      try {
        const response = await withTimeout(
          client.refreshAccessToken(endpoints.token, refreshToken, scopes),
          env.OAUTH_HTTP_TIMEOUT_SECONDS * 1000,
          "The token endpoint",
        );
        tokens = parseTokenResponse(response);
      } catch (err) {
        const failure = classifyOAuthError(err);
        if (failure.kind === "grant") await actions.eraseTokens();
        return { ok: false, provider, failure, tokensErased: failure.kind === "grant" };
      }
      await actions.saveRefreshed({
        accessTokenEncrypted: box.encrypt(tokens.accessToken),
        // Providers that rotate refresh tokens invalidate the old one: the new one must be kept.
        refreshTokenEncrypted: tokens.refreshToken ? box.encrypt(tokens.refreshToken) : null,
        expiresAt: tokens.expiresAt,
        scopes: tokens.scopes,
      });
      return { ok: true, info: { accessToken: tokens.accessToken, expiresAt: tokens.expiresAt }, refreshed: true };
    });
  } catch (err) {
    if (err instanceof MailError) throw err;
    if ((err as { code?: string }).code === "55P03") {
      throw new MailError("network", "Another process is refreshing this mailbox's token; will retry.", { cause: err });
    }
    throw new MailError("unknown", "The OAuth token could not be refreshed.", { cause: err });
  }

  const log = getLogger().child({ mailbox_id: mailboxId });
  if (outcome.ok) {
    if (outcome.refreshed) {
      log.info({ event: "token_refreshed", expires_at: outcome.info.expiresAt }, "OAuth access token refreshed");
      for (const listener of refreshListeners) listener();
    }
    return outcome.info;
  }
  const { provider, failure } = outcome;
  const label = PROVIDER_LABEL[provider];
  log.warn({ event: "token_refresh_failed", kind: failure.kind, code: failure.code }, "OAuth token refresh failed");
  if (failure.kind === "grant") {
    const message = reconnectMessage(provider);
    throw new MailError("needs_reauth", message, { eventMessage: `${label} refused the refresh token (${failure.code}).` });
  }
  if (failure.kind === "network") {
    throw new MailError("network", `${label}'s token endpoint could not be reached (${failure.code}); will retry.`);
  }
  if (failure.kind === "client") {
    throw new MailError(
      "auth",
      failure.code === "not_configured"
        ? `${label} sign-in is not configured on this server.`
        : `${label} refused the OAuth app's credentials (${failure.code}). Check the client id and secret, then reconnect.`,
    );
  }
  throw new MailError("auth", `${label} refused to refresh the access token (${failure.code}).`);
}

/** The AccessTokenSource the mail providers take; remembers what it handed out for forceRefresh. */
export function createAccessTokenSource(mailbox: Pick<Mailbox, "id">): AccessTokenSource {
  return accessTokenSourceFrom((opts) => getAccessToken(mailbox.id, opts));
}

/** For tests: forget in-process bookkeeping. */
export function resetTokenManagerState(): void {
  inflight.clear();
  lastForcedRefreshAt.clear();
}
