import { eq, sql } from "drizzle-orm";
import { getDb } from "@/lib/db/client";
import { mailboxEvents, mailboxes, type Mailbox } from "@/lib/db/schema";

/** The columns the token manager reads under its lock. */
export type MailboxTokenRow = Pick<
  Mailbox,
  | "id"
  | "tenantId"
  | "authMethod"
  | "oauthProvider"
  | "oauthClientId"
  | "oauthClientSecretEncrypted"
  | "oauthTenantId"
  | "oauthAccessTokenEncrypted"
  | "oauthRefreshTokenEncrypted"
  | "oauthTokenExpiry"
  | "oauthScopes"
  | "access"
  | "mailboxKind"
>;

const tokenColumns = {
  id: mailboxes.id,
  tenantId: mailboxes.tenantId,
  authMethod: mailboxes.authMethod,
  oauthProvider: mailboxes.oauthProvider,
  oauthClientId: mailboxes.oauthClientId,
  oauthClientSecretEncrypted: mailboxes.oauthClientSecretEncrypted,
  oauthTenantId: mailboxes.oauthTenantId,
  oauthAccessTokenEncrypted: mailboxes.oauthAccessTokenEncrypted,
  oauthRefreshTokenEncrypted: mailboxes.oauthRefreshTokenEncrypted,
  oauthTokenExpiry: mailboxes.oauthTokenExpiry,
  oauthScopes: mailboxes.oauthScopes,
  access: mailboxes.access,
  mailboxKind: mailboxes.mailboxKind,
};

export async function getMailboxTokens(params: { mailboxId: string }): Promise<MailboxTokenRow | null> {
  const [row] = await getDb().select(tokenColumns).from(mailboxes).where(eq(mailboxes.id, params.mailboxId));
  return row ?? null;
}

export type TokenLockActions = {
  /** Stores a refreshed access token; a refresh token is stored whenever the provider sent one. */
  saveRefreshed(tokens: {
    accessTokenEncrypted: string;
    refreshTokenEncrypted: string | null;
    expiresAt: Date | null;
    scopes: string[] | null;
  }): Promise<void>;
  /** The grant is gone (invalid_grant): forget the tokens so nothing tries them again. */
  eraseTokens(): Promise<void>;
};

/**
 * Runs `fn` while holding the mailbox row lock (SELECT ... FOR UPDATE), so the web process and any
 * watcher never refresh the same grant at once: the second one waits, then sees the new token.
 * Only the token columns are written here; health is recorded by the caller after the commit.
 */
export async function withMailboxTokenLock<T>(
  params: { mailboxId: string; lockTimeoutMs: number },
  fn: (row: MailboxTokenRow | null, actions: TokenLockActions) => Promise<T>,
): Promise<T> {
  return getDb().transaction(async (tx) => {
    await tx.execute(sql`SELECT set_config('lock_timeout', ${`${Math.max(1, Math.round(params.lockTimeoutMs))}ms`}, true)`);
    const [row] = await tx.select(tokenColumns).from(mailboxes).where(eq(mailboxes.id, params.mailboxId)).for("update");
    const actions: TokenLockActions = {
      async saveRefreshed(tokens) {
        await tx
          .update(mailboxes)
          .set({
            oauthAccessTokenEncrypted: tokens.accessTokenEncrypted,
            ...(tokens.refreshTokenEncrypted ? { oauthRefreshTokenEncrypted: tokens.refreshTokenEncrypted } : {}),
            oauthTokenExpiry: tokens.expiresAt,
            ...(tokens.scopes && tokens.scopes.length > 0 ? { oauthScopes: tokens.scopes } : {}),
          })
          .where(eq(mailboxes.id, params.mailboxId));
        await tx.insert(mailboxEvents).values({ mailboxId: params.mailboxId, kind: "token_refreshed", message: null });
      },
      async eraseTokens() {
        await tx
          .update(mailboxes)
          .set({ oauthAccessTokenEncrypted: null, oauthRefreshTokenEncrypted: null, oauthTokenExpiry: null })
          .where(eq(mailboxes.id, params.mailboxId));
      },
    };
    return fn(row ?? null, actions);
  });
}
