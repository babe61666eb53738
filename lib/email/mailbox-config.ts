import type { Mailbox } from "../db/schema";
import { getEnv } from "../env";
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

  /** Issue 18: own | shared | app_only | delegated (organisation mailboxes). */
  mailbox_kind: Mailbox["mailboxKind"];
  /** Issue 18: what identifies an organisation mailbox's access, never a secret; null for own mailboxes. */
  organisation: OrganisationView | null;
};

export type OrganisationView = {
  /** shared: the signed-in admin who reads it; delegated: null. */
  via_account: string | null;
  tenant_id: string | null;
  client_id: string | null;
  has_client_secret: boolean;
  service_account_email: string | null;
  has_service_account_key: boolean;
  /** push = change notifications / Pub/Sub; poll = delta polling only (shared mailboxes). */
  notifications: "push" | "poll";
  /** Entra's admin-consent page for the app (app_only). */
  admin_consent_url: string | null;
};

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

export function toMailboxConfig(row: Mailbox, errorCount24h: number, opts: { microsoftAuthority?: string } = {}): MailboxConfig {
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
    error_count_24h: errorCount24h,
    mailbox_kind: row.mailboxKind,
    organisation: organisationView(row, opts.microsoftAuthority ?? (row.mailboxKind === "app_only" ? getEnv().MICROSOFT_OAUTH_AUTHORITY : undefined)),
  };
}
