import type { Mailbox } from "../db/schema";
import type { EmailType } from "./email-type";
import type { ForwardingConfig } from "./forwarding/forwarding-settings";
import { effectiveTlsMode, type TlsMode } from "./tls-mode";

/** API.md MailboxConfig: everything an admin may see about a mailbox, and never a secret. */
export type MailboxConfig = {
  email_type: EmailType;
  provider: Mailbox["provider"];
  access: Mailbox["access"];
  protocol: "imap" | "pop3";
  host: string | null;
  port: number;
  address: string | null;
  username: string | null;
  /** true exactly when tls_mode is "implicit" (kept for older clients). */
  use_ssl: boolean;
  tls_mode: TlsMode;
  allow_invalid_certificate: boolean;
  auth_method: Mailbox["authMethod"];
  has_password: boolean;
  use_idle: boolean;
  folder: string;
  enabled: boolean;
  poll_interval_seconds: number;
  delete_after_ingest: boolean;
  /** Read on the first connect only; `started` says whether that has happened. */
  start_mode: Mailbox["startMode"];
  start_since: string | null;
  /** True once discovery has a cursor: changing start_mode then imports nothing again. */
  started: boolean;
  after_ingest: Mailbox["afterIngest"];
  move_to_folder: string | null;
  oauth: null | {
    provider: Mailbox["provider"];
    connected_email: string | null;
    is_connected: boolean;
    scopes: string[];
    token_expiry: string | null;
    uses_own_app: boolean;
  };
  last_success_at: string | null;
  last_error: string | null;
  error_count_24h: number;
  /** Forwarding mailboxes only (issue 16): the address, sender policy, verification mail, health. */
  forwarding?: ForwardingConfig | null;
};

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** Any provider's discovery cursor (IMAP UID, Gmail history id, Graph delta link). */
function hasCursor(state: Mailbox["syncState"]): boolean {
  return Boolean(state.imapUidValidity || state.gmailHistoryId || state.graphDeltaLink);
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
    error_count_24h: errorCount24h,
  };
}
