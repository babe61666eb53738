import { getSecretBox } from "@/lib/crypto/secret-box";
import type { Mailbox } from "@/lib/db/schema";
import type { AccessTokenSource } from "@/lib/email/create-provider";
import { MailError } from "@/lib/email/provider";
import { getEnv, type Env } from "@/lib/env";
import { endpointsFor } from "./providers";
import { parseServiceAccountKey, requestClientCredentialsToken, requestDelegatedGmailToken, type OrgToken } from "./org-tokens";

/**
 * The AccessTokenSource of an app-only Graph or a delegated Gmail mailbox: a token from the
 * organisation's credentials, kept in memory until OAUTH_REFRESH_SKEW_SECONDS before it expires
 * (nothing to store: a new one costs one request and no user), and fetched again when the mail API
 * rejects it (forceRefresh). A refusal by the token endpoint is a MailError("needs_reauth") with
 * the reason, so the watcher parks the mailbox instead of retrying.
 */
export type OrgMailbox = Pick<
  Mailbox,
  "id" | "mailboxKind" | "address" | "oauthClientId" | "oauthClientSecretEncrypted" | "oauthTenantId" | "serviceAccountKeyEncrypted"
>;

export function isOrgTokenMailbox(mailbox: Pick<Mailbox, "mailboxKind">): boolean {
  return mailbox.mailboxKind === "app_only" || mailbox.mailboxKind === "delegated";
}

function decrypt(value: string | null, what: string): string {
  if (!value) throw new MailError("needs_reauth", `No ${what} is saved for this mailbox. Enter it again.`);
  try {
    return getSecretBox().decrypt(value);
  } catch (err) {
    throw new MailError("needs_reauth", `The stored ${what} can't be decrypted (encryption keys changed). Enter it again.`, { cause: err });
  }
}

/** One token request for the mailbox's kind (exported for the settings test endpoint). */
export async function requestOrgToken(mailbox: OrgMailbox, env: Env = getEnv()): Promise<OrgToken> {
  const timeoutMs = env.OAUTH_HTTP_TIMEOUT_SECONDS * 1000;
  if (mailbox.mailboxKind === "app_only") {
    if (!mailbox.oauthClientId || !mailbox.oauthTenantId) throw new MailError("needs_reauth", "The app-only mailbox needs a tenant id and a client id.");
    const clientSecret = decrypt(mailbox.oauthClientSecretEncrypted, "client secret");
    const { token } = endpointsFor("microsoft", { clientId: mailbox.oauthClientId, clientSecret, tenantId: mailbox.oauthTenantId, custom: true }, env);
    return requestClientCredentialsToken({ tokenUrl: token, clientId: mailbox.oauthClientId, clientSecret, timeoutMs });
  }
  if (mailbox.mailboxKind === "delegated") {
    if (!mailbox.address) throw new MailError("config", "The delegated mailbox has no address.");
    const key = parseServiceAccountKey(decrypt(mailbox.serviceAccountKeyEncrypted, "service account key"));
    return requestDelegatedGmailToken({ key, subject: mailbox.address, tokenUrl: env.GOOGLE_OAUTH_TOKEN_URL, timeoutMs });
  }
  throw new MailError("config", "This mailbox does not use organisation credentials.");
}

type Cached = { token: OrgToken; fingerprint: string };
const cache = new Map<string, Cached>();
const inflight = new Map<string, Promise<OrgToken>>();

/** The credentials a cached token was made from: a settings change must not reuse it. */
function fingerprintOf(m: OrgMailbox): string {
  return [m.mailboxKind, m.address, m.oauthClientId, m.oauthTenantId, m.oauthClientSecretEncrypted, m.serviceAccountKeyEncrypted].join("\u0000");
}

export function createOrgTokenSource(mailbox: OrgMailbox, deps: { request?: (m: OrgMailbox) => Promise<OrgToken>; now?: () => number } = {}): AccessTokenSource {
  const request = deps.request ?? ((m: OrgMailbox) => requestOrgToken(m));
  const now = deps.now ?? Date.now;
  const fingerprint = fingerprintOf(mailbox);
  return async (opts) => {
    const skewMs = getEnv().OAUTH_REFRESH_SKEW_SECONDS * 1000;
    const cached = cache.get(mailbox.id);
    const fresh = cached && cached.fingerprint === fingerprint && (cached.token.expiresAt === null || cached.token.expiresAt.getTime() - now() > skewMs);
    if (fresh && !opts?.forceRefresh) return cached.token.accessToken;
    const running = inflight.get(mailbox.id);
    if (running) return (await running).accessToken;
    const next = request(mailbox)
      .then((token) => {
        cache.set(mailbox.id, { token, fingerprint });
        return token;
      })
      .finally(() => inflight.delete(mailbox.id));
    inflight.set(mailbox.id, next);
    return (await next).accessToken;
  };
}

/** For tests: forget cached tokens. */
export function resetOrgTokenCache(): void {
  cache.clear();
  inflight.clear();
}
