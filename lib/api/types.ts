/**
 * The HTTP contract (/work/shared/API.md) as types: the route mappers build these, the browser
 * client (components/email-api.ts) and the tests read them. Pure types and constants only, so the
 * browser bundle can import it; the server-side mappers check their rows against it.
 */
import type { ForwardingVerification } from "@/lib/db/schema";
import type { MailErrorCode } from "./error-codes";

export type EmailType = "booking" | "stopsale";
export type Provider = "imap" | "google" | "microsoft" | "forwarding";
export type MailAccessKind = "imap" | "pop3" | "gmail_api" | "graph_api" | "forwarding";
/** Issue 18: a user's own mailbox, or an organisation mailbox reached through a grant. */
export type MailboxKind = "own" | "shared" | "app_only" | "delegated";
export type Protocol = "imap" | "pop3";
export type TlsModeName = "implicit" | "starttls" | "none";
export type AuthMethodName = "password" | "app_password" | "oauth2";
export type StartMode = "unread" | "since" | "new_only";
export type AfterIngest = "mark_read" | "none" | "move";

/** Every error body: `code` is stable and what clients branch on; `message` is English for people. */
export type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };

export type OAuthInfo = {
  provider: Provider;
  connected_email: string | null;
  is_connected: boolean;
  scopes: string[];
  token_expiry: string | null;
  uses_own_app: boolean;
};

/** GET/PUT settings: everything an admin may see about a mailbox, and never a secret. */
export type MailboxConfig = {
  email_type: EmailType;
  provider: Provider;
  access: MailAccessKind;
  protocol: Protocol;
  host: string | null;
  port: number;
  address: string | null;
  username: string | null;
  /** true exactly when tls_mode is "implicit" (kept for older clients). */
  use_ssl: boolean;
  tls_mode: TlsModeName;
  allow_invalid_certificate: boolean;
  auth_method: AuthMethodName;
  has_password: boolean;
  use_idle: boolean;
  folder: string;
  enabled: boolean;
  poll_interval_seconds: number;
  delete_after_ingest: boolean;
  /** Read on the first connect only; `started` says whether that has happened. */
  start_mode: StartMode;
  start_since: string | null;
  /** True once discovery has a cursor: changing start_mode then imports nothing again. */
  started: boolean;
  after_ingest: AfterIngest;
  move_to_folder: string | null;
  oauth: OAuthInfo | null;
  last_success_at: string | null;
  last_error: string | null;
  /** The stable code of last_error (null with no error, or for rows from before codes were stored). */
  last_error_code: MailErrorCode | null;
  error_count_24h: number;
  /** Forwarding mailboxes only (issue 16): the address, sender policy, verification mail, health. */
  forwarding?: ForwardingInfo | null;
  /** Issue 15: warn the admins when this mailbox, which normally receives mail, goes unusually quiet. */
  quiet_alert: boolean;
  /** Issue 18: own | shared | app_only | delegated (organisation mailboxes). */
  mailbox_kind: MailboxKind;
  /** Issue 18: what identifies an organisation mailbox's access, never a secret; null for own mailboxes. */
  organisation: OrganisationView | null;
};

/** MailboxConfig.forwarding (issue 16): what the settings page shows for a forwarding mailbox. */
export type ForwardingInfo = {
  forwarding_address: string;
  allowed_senders: string[];
  refuse_dmarc_fail: boolean;
  verification: ForwardingVerification | null;
  health: {
    last_message_at: string | null;
    messages_24h: number;
    failed_24h: number;
    /** Nothing has arrived yet: the settings page suggests sending a test mail to the address. */
    send_test_mail: boolean;
  };
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

export type SettingsResponse = Record<EmailType, MailboxConfig | null>;

export type MailboxStatus = "connected" | "connecting" | "disconnected" | "error" | "needs_reauth" | "paused" | "not_configured";

export type HourlyPoint = { hour: string; processed: number; failed: number };

export type MailboxStats = {
  processed_24h: number;
  failed_24h: number;
  avg_processing_time_ms: number;
  queue_size: number;
};

/** GET health: the seed's EmailHealthStatus plus what the health card shows. */
export type MailboxHealth = MailboxStats & {
  status: MailboxStatus;
  enabled: boolean;
  provider: Provider | null;
  access: MailAccessKind | null;
  address: string | null;
  status_since: string | null;
  last_sync: string | null;
  last_error: string | null;
  last_error_code: MailErrorCode | null;
  last_error_at: string | null;
  error_count: number;
  backlog: number;
  /** A first import (or re-baseline) still running: messages imported so far of its total; else null. */
  first_import: { imported: number; total: number } | null;
  hourly: HourlyPoint[];
};

export type HealthResponse = Record<EmailType, MailboxHealth>;

export type StatsResponse = MailboxStats & { by_type: Record<EmailType, MailboxStats> };

export type MessageStatus = "queued" | "processing" | "processed" | "failed" | "too_large";

export type Attachment = { filename: string | null; content_type: string; size: number };

export type MessageItem = {
  id: string;
  email_type: EmailType;
  message_id: string | null;
  from: string | null;
  to: string | null;
  subject: string | null;
  sent_at: string | null;
  received_at: string;
  status: MessageStatus;
  error: string | null;
  processing_ms: number | null;
  size: number;
  attachments: Attachment[];
  /** Parse defects, each naming its defect ("mbox_from_line: ..."): shown, not failed. */
  warnings: string[];
  /** SPF/DKIM/DMARC/ARC of mail received through a forwarding address (issue 16); null for fetched mail. */
  sender_auth: SenderAuth | null;
};

export type SenderAuth = { spf: string; dkim: string; dmarc: string; arc: string; dkim_domains: string[] };

export type MessageDetail = MessageItem & { text: string | null; html: string | null };

export type MessagePage = { items: MessageItem[]; next_cursor: string | null };

export type StartCandidateCounts = { unread: number; since: number | null; total: number };

/** POST settings/{type}/test. */
export type TestResult =
  | { ok: true; folder: string; exists: number; unseen: number; start_counts?: StartCandidateCounts }
  | { ok: false; error: { code: MailErrorCode; message: string } };
