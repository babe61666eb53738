import { isMailErrorCode } from "@/lib/api/error-codes";
import type { MailboxConfig, OrganisationView } from "@/lib/api/types";
import type { Mailbox } from "@/lib/db/schema";
import { getEnv } from "@/lib/env";
import { effectiveTlsMode } from "@/lib/email/mail-socket/tls-mode";

export type { MailboxConfig };

export type { OrganisationView };

/** Entra's admin-consent URL for an app in a tenant (v2.0 endpoint, Graph's `.default` scope). */
export function adminConsentUrl({ authority = "https://login.microsoftonline.com", tenantId, clientId }: { authority?: string; tenantId: string; clientId: string }): string {
  const url = new URL(`${authority.replace(/\/+$/, "")}/${encodeURIComponent(tenantId)}/v2.0/adminconsent`);
  url.searchParams.set("client_id", clientId);
  url.searchParams.set("scope", "https://graph.microsoft.com/.default");
  return url.toString();
}

function organisationView(row: Mailbox, authority: string | undefined): OrganisationView | null {
  if (row.mailboxKind === "own") return null;
  return {
    via_account: row.mailboxKind === "shared" ? row.oauthConnectedEmail : null,
    tenant_id: row.mailboxKind === "app_only" ? row.oauthTenantId : null,
    client_id: row.mailboxKind === "shared" ? null : row.oauthClientId,
    has_client_secret: row.mailboxKind === "app_only" && Boolean(row.oauthClientSecretEncrypted),
    service_account_email: row.mailboxKind === "delegated" ? row.username : null,
    has_service_account_key: Boolean(row.serviceAccountKeyEncrypted),
    notifications: row.mailboxKind === "shared" ? "poll" : "push",
    admin_consent_url:
      row.mailboxKind === "app_only" && row.oauthTenantId && row.oauthClientId
        ? adminConsentUrl({ ...(authority ? { authority } : {}), tenantId: row.oauthTenantId, clientId: row.oauthClientId })
        : null,
  };
}

/** Org kinds without a user token are connected when their credential is stored. */
function isOAuthConnected(row: Mailbox): boolean {
  if (row.mailboxKind === "app_only") return Boolean(row.oauthClientSecretEncrypted);
  if (row.mailboxKind === "delegated") return Boolean(row.serviceAccountKeyEncrypted);
  return Boolean(row.oauthRefreshTokenEncrypted || row.oauthAccessTokenEncrypted);
}

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
          is_connected: isOAuthConnected(row),
          scopes: row.oauthScopes,
          token_expiry: iso(row.oauthTokenExpiry),
          uses_own_app: Boolean(row.oauthClientId),
        }
      : null,
    last_success_at: iso(row.lastSuccessAt),
    last_error: row.lastError,
    last_error_code: storedErrorCode(row),
    error_count_24h: errorCount24h,
    quiet_alert: row.quietAlert,
    mailbox_kind: row.mailboxKind,
    organisation: organisationView(row, row.mailboxKind === "app_only" ? getEnv().MICROSOFT_OAUTH_AUTHORITY : undefined),
  };
}
