import { and, asc, eq, gt, isNotNull, type SQL } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import { getDb } from "@/lib/db/client";
import { mailboxes, oauthFlows } from "@/lib/db/schema";

/** Every column that holds a Fernet token. A new encrypted column must be added here to be rotated. */
const ENCRYPTED_COLUMNS = {
  "mailboxes.password_encrypted": { table: mailboxes, id: mailboxes.id, column: mailboxes.passwordEncrypted, key: "passwordEncrypted" },
  "mailboxes.oauth_client_secret_encrypted": { table: mailboxes, id: mailboxes.id, column: mailboxes.oauthClientSecretEncrypted, key: "oauthClientSecretEncrypted" },
  "mailboxes.oauth_access_token_encrypted": { table: mailboxes, id: mailboxes.id, column: mailboxes.oauthAccessTokenEncrypted, key: "oauthAccessTokenEncrypted" },
  "mailboxes.oauth_refresh_token_encrypted": { table: mailboxes, id: mailboxes.id, column: mailboxes.oauthRefreshTokenEncrypted, key: "oauthRefreshTokenEncrypted" },
  // Issue 18: Google service account keys (domain-wide delegation).
  "mailboxes.service_account_key_encrypted": { table: mailboxes, id: mailboxes.id, column: mailboxes.serviceAccountKeyEncrypted, key: "serviceAccountKeyEncrypted" },
  "oauth_flows.code_verifier_encrypted": { table: oauthFlows, id: oauthFlows.id, column: oauthFlows.codeVerifierEncrypted, key: "codeVerifierEncrypted" },
} satisfies Record<string, { table: PgTable; id: PgColumn; column: PgColumn; key: string }>;

export type EncryptedColumnName = keyof typeof ENCRYPTED_COLUMNS;
export const ENCRYPTED_COLUMN_NAMES = Object.keys(ENCRYPTED_COLUMNS) as EncryptedColumnName[];

export type EncryptedValue = { id: string; token: string };

/** One page of non-null tokens of a column, by id after `afterId` (keyset paging: safe while rows change). */
export async function listEncryptedValues(params: {
  column: EncryptedColumnName;
  afterId: string | null;
  limit: number;
}): Promise<EncryptedValue[]> {
  const target = ENCRYPTED_COLUMNS[params.column];
  const conditions: SQL[] = [isNotNull(target.column)];
  if (params.afterId !== null) conditions.push(gt(target.id, params.afterId));
  const rows = await getDb()
    .select({ id: target.id, token: target.column })
    .from(target.table)
    .where(and(...conditions))
    .orderBy(asc(target.id))
    .limit(params.limit);
  return rows.map((r) => ({ id: String(r.id), token: String(r.token) }));
}

/**
 * Replaces one token only if it is still the one that was read (compare-and-set in one statement):
 * a token the app rewrote meanwhile (a refreshed OAuth token, a new password) is newer and is left
 * alone. False when the row changed or is gone.
 */
export async function replaceEncryptedValue(params: {
  column: EncryptedColumnName;
  id: string;
  oldToken: string;
  newToken: string;
}): Promise<boolean> {
  const target = ENCRYPTED_COLUMNS[params.column];
  const rows = await getDb()
    .update(target.table)
    .set({ [target.key]: params.newToken })
    .where(and(eq(target.id, params.id), eq(target.column, params.oldToken)))
    .returning({ id: target.id });
  return rows.length === 1;
}

