import { isMailErrorCode } from "@/lib/api/error-codes";
import type { MailboxConfig } from "@/lib/api/types";
import type { Mailbox } from "@/lib/db/schema";
import { effectiveTlsMode } from "./tls-mode";

export type { MailboxConfig };

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** Any provider's discovery cursor (IMAP UID, Gmail history id, Graph delta link). */
function hasCursor(state: Mailbox["syncState"]): boolean {
  return Boolean(state.imapUidValidity || state.gmailHistoryId || state.graphDeltaLink);
}

/** last_error's code as stored; a row with an error but no (known) code reads as "unknown". */
export function storedErrorCode(row: Pick<Mailbox, "lastError" | "lastErrorCode">): MailboxConfig["last_error_code"] {
  if (!row.lastError) return null;
  return isMailErrorCode(row.lastErrorCode) ? row.lastErrorCode : "unknown";
}

export function toMailboxConfig(row: Mailbox, errorCount24h: number): MailboxConfig {
  return {
    email_type: row.purpose,
    provider: row.provider,
    access: row.access,
    protocol: row.access === "pop3" ? "pop3" : "imap",
    host: row.host,
    port: row.port,
    address: row.address,
    username: row.username,
    use_ssl: effectiveTlsMode(row) === "implicit",
    tls_mode: effectiveTlsMode(row),
    allow_invalid_certificate: row.allowInvalidCertificate,
    auth_method: row.authMethod,
    has_password: Boolean(row.passwordEncrypted),
    use_idle: row.useIdle,
    folder: row.folder,
    enabled: row.enabled,
    poll_interval_seconds: row.pollIntervalSeconds,
    delete_after_ingest: row.deleteAfterIngest,
    start_mode: row.startMode,
    start_since: iso(row.startSince),
    started: hasCursor(row.syncState),
    after_ingest: row.afterIngest,
    move_to_folder: row.moveToFolder,
    oauth: row.oauthProvider
      ? {
          provider: row.oauthProvider,
          connected_email: row.oauthConnectedEmail,
          is_connected: Boolean(row.oauthRefreshTokenEncrypted || row.oauthAccessTokenEncrypted),
          scopes: row.oauthScopes,
          token_expiry: iso(row.oauthTokenExpiry),
          uses_own_app: Boolean(row.oauthClientId),
        }
      : null,
    last_success_at: iso(row.lastSuccessAt),
    last_error: row.lastError,
    last_error_code: storedErrorCode(row),
    error_count_24h: errorCount24h,
  };
}
