import { relations, sql } from "drizzle-orm";
import {
  bigserial,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  serial,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => "bytea",
});

export const mailboxPurpose = pgEnum("mailbox_purpose", ["booking", "stopsale"]);
export const mailProvider = pgEnum("mail_provider", ["imap", "google", "microsoft", "forwarding"]);
export const mailAccess = pgEnum("mail_access", ["imap", "pop3", "gmail_api", "graph_api", "forwarding"]);
export const authMethod = pgEnum("auth_method", ["password", "app_password", "oauth2"]);
/**
 * Issue 18, organisation mailboxes: own = the signed-in account's mailbox; shared = a Microsoft 365
 * shared/delegated mailbox read through the signed-in admin (/users/{address}); app_only = Graph
 * with client credentials; delegated = Google Workspace domain-wide delegation.
 */
export const mailboxKind = pgEnum("mailbox_kind", ["own", "shared", "app_only", "delegated"]);
/** implicit: TLS from the first byte; starttls: upgrade required (fail if not offered); none: plaintext, chosen explicitly. */
export const mailTlsMode = pgEnum("mail_tls_mode", ["implicit", "starttls", "none"]);
export const mailboxStatus = pgEnum("mailbox_status", [
  "connecting",
  "connected",
  "disconnected",
  "error",
  "needs_reauth",
  // Issue 15: sign-in failed too often; the watcher stops trying until settings are saved or "Try again".
  "paused",
]);
/** Where a new mailbox starts on first connect (issue 13): its unread mail, mail since a date, or only new mail. */
export const mailboxStartMode = pgEnum("mailbox_start_mode", ["unread", "since", "new_only"]);
/** What happens at the provider once a message is committed; discovery never depends on it. */
export const mailboxAfterIngest = pgEnum("mailbox_after_ingest", ["mark_read", "none", "move"]);
/** too_large: above EMAIL_MAX_MESSAGE_BYTES, stored with its headers only and left at the provider. */
export const messageStatus = pgEnum("message_status", ["queued", "processing", "processed", "failed", "too_large"]);
export const userRole = pgEnum("user_role", ["admin", "viewer"]);

export const tenants = pgTable("tenants", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull(),
  isActive: boolean("is_active").notNull().default(true),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    email: text("email").notNull(),
    passwordHash: text("password_hash").notNull(),
    role: userRole("role").notNull().default("admin"),
    // Issue 15: the language of this user's alert emails, and whether they get them at all.
    locale: text("locale").notNull().default("en"),
    alertEmail: boolean("alert_email").notNull().default(true),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("users_email_key").on(sql`lower(${t.email})`)],
);

/** Session ids are SHA-256 hashes of the cookie token: a database leak yields no usable session. */
export const sessions = pgTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("sessions_user_idx").on(t.userId)],
);

/** Failed logins by key (email and client address); rate limiting must hold across web replicas. */
export const loginAttempts = pgTable(
  "login_attempts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    key: text("key").notNull(),
    attemptedAt: timestamp("attempted_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("login_attempts_key_idx").on(t.key, t.attemptedAt)],
);

/** Provider-specific cursors kept between connections. */
export type SyncState = {
  /** Legacy key of the \Seen-based IMAP sync; unused since issue 13. */
  uidValidity?: string;
  /** IMAP cursor: the folder's UIDVALIDITY the cursor belongs to. Missing: first connect / re-baseline. */
  imapUidValidity?: string;
  /** IMAP cursor: the folder it belongs to; another folder (a settings change) starts afresh per start mode. */
  imapFolder?: string;
  /** IMAP cursor: every UID <= this has been stored or deliberately skipped. */
  imapLastUid?: number;
  /**
   * IMAP first-connect baseline still being imported (start mode unread / since, or a UIDVALIDITY
   * re-baseline): the UIDs below imapBaselineUidNext to import, as an IMAP sequence set. UIDs in
   * (imapLastUid, imapBaselineUidNext) that are not in it are skipped; at or above it everything is
   * new. Kept until the cursor passes it, so a crash mid-import resumes exactly. null: no baseline.
   */
  imapBaselineUids?: string | null;
  imapBaselineUidNext?: number | null;
  /**
   * IMAP live cursor while a baseline is imported: every UID in [imapBaselineUidNext, this] is
   * stored, so mail arriving during a large first import is fetched first, not behind the backlog.
   * Folded into imapLastUid when the baseline ends. null/missing: imapBaselineUidNext - 1.
   */
  imapLiveLastUid?: number | null;
  /**
   * UIDs (sequence set) of the last committed IMAP batch whose after-ingest action may not have
   * run (a crash between commit and STORE/MOVE): re-applied at the next connect. Idempotent.
   */
  imapAfterIngestPending?: string | null;
  /** UIDNEXT at the last baseline: from here on every UID is stored (reconcile checks [floor, lastUid]). */
  imapFloorUid?: number;
  /** Internal date of the newest message stored by the IMAP cursor: a re-baseline searches from a day before it. */
  imapLastReceivedAt?: string;
  /**
   * Gmail/Graph: provider ids of the last committed batch whose after-ingest action may not have
   * run (a crash between commit and modify/move): re-applied at the next connect. Idempotent.
   */
  apiAfterIngestPending?: string[] | null;
  /**
   * Gmail/Graph: ids the import queue still owes (a first import's baseline, live mail queued in
   * front of it), committed with every batch next to the history id / delta link that covers them,
   * so a restart resumes the queue instead of asking the provider again (first-import.ts). null: none.
   */
  apiBaselineIds?: string[] | null;
  /** Gmail/Graph: when the first baseline was taken (ISO); the reconcile never looks before it. */
  apiBaselineAt?: string;
  /** Newest receivedAt (ISO) among the stored messages of Gmail/Graph: where a re-baseline after an expired cursor starts. */
  apiLastReceivedAt?: string;
  /** POP3: the start mode's baseline has been taken (ISO time); the UIDL set is the cursor from then on. */
  pop3BaselineAt?: string;
  /**
   * POP3: UIDLs of a backlog larger than one batch still to import, committed with every batch, so
   * mail that arrives during (or after a crash in) a long import still goes first. null: none.
   */
  pop3BacklogUids?: string[] | null;
  /**
   * POP3 with delete-after-ingest: UIDLs of the last committed batch that may not be DELEted yet (a
   * crash between commit and QUIT): deleted at the next connect. Stored UIDLs are never fetched
   * again, so without this they would stay on the server for good.
   */
  pop3AfterIngestPending?: string[] | null;
  gmailHistoryId?: string;
  gmailWatchExpiresAt?: string;
  gmailWatchRenewedAt?: string;
  /** The label the watch was made for: a label change needs a new watch. */
  gmailWatchLabel?: string;
  graphDeltaLink?: string;
  graphSubscriptionId?: string;
  graphSubscriptionExpiresAt?: string;
  /** The resource the subscription was made for: a folder change needs a new subscription. */
  graphSubscriptionResource?: string;
};

/**
 * One row per tenant and purpose. Every column of the seed's doubled tenant_settings columns
 * (booking_oauth_*, stopsale_email_*, ...) has a home here.
 */
export const mailboxes = pgTable(
  "mailboxes",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    purpose: mailboxPurpose("purpose").notNull(),
    provider: mailProvider("provider").notNull().default("imap"),
    access: mailAccess("access").notNull().default("imap"),
    host: text("host"),
    port: integer("port").notNull().default(993),
    address: text("address"),
    username: text("username"),
    useSsl: boolean("use_ssl").notNull().default(true),
    // NULL on rows saved before TLS modes existed: read as use_ssl ? implicit : starttls (tls-mode.ts).
    tlsMode: mailTlsMode("tls_mode"),
    allowInvalidCertificate: boolean("allow_invalid_certificate").notNull().default(false),
    authMethod: authMethod("auth_method").notNull().default("password"),
    passwordEncrypted: text("password_encrypted"),
    useIdle: boolean("use_idle").notNull().default(true),
    folder: text("folder").notNull().default("INBOX"),
    enabled: boolean("enabled").notNull().default(true),
    pollIntervalSeconds: integer("poll_interval_seconds").notNull().default(60),
    deleteAfterIngest: boolean("delete_after_ingest").notNull().default(false),
    /** Read on first connect only (no cursor yet); changing it later does not re-import. */
    startMode: mailboxStartMode("start_mode").notNull().default("unread"),
    startSince: timestamp("start_since", { withTimezone: true }),
    afterIngest: mailboxAfterIngest("after_ingest").notNull().default("mark_read"),
    /** IMAP folder / Gmail label id or name / Graph folder id or well-known name, for after_ingest = move. */
    moveToFolder: text("move_to_folder"),
    // OAuth (seed §3.1 *_oauth_* columns)
    oauthProvider: mailProvider("oauth_provider"),
    oauthClientId: text("oauth_client_id"),
    oauthClientSecretEncrypted: text("oauth_client_secret_encrypted"),
    oauthTenantId: text("oauth_tenant_id"),
    oauthAccessTokenEncrypted: text("oauth_access_token_encrypted"),
    oauthRefreshTokenEncrypted: text("oauth_refresh_token_encrypted"),
    oauthTokenExpiry: timestamp("oauth_token_expiry", { withTimezone: true }),
    oauthScopes: text("oauth_scopes").array().notNull().default(sql`'{}'::text[]`),
    oauthConnectedEmail: text("oauth_connected_email"),
    // Organisation mailboxes (issue 18): the kind, and a Google service account key (Fernet).
    mailboxKind: mailboxKind("mailbox_kind").notNull().default("own"),
    serviceAccountKeyEncrypted: text("service_account_key_encrypted"),
    // Health (seed §3.1 *_email_* columns); 24 h counts come from mailbox_events
    status: mailboxStatus("status").notNull().default("disconnected"),
    statusChangedAt: timestamp("status_changed_at", { withTimezone: true }).notNull().defaultNow(),
    lastSuccessAt: timestamp("last_success_at", { withTimezone: true }),
    lastError: text("last_error"),
    lastErrorAt: timestamp("last_error_at", { withTimezone: true }),
    /** Issue 15: the MailErrorCode of last_error (alerts and notices are worded from it, not from the sentence). */
    lastErrorCode: text("last_error_code"),
    /** Issue 15: warn when this mailbox, which normally receives mail, has been quiet for an unusual time. */
    quietAlert: boolean("quiet_alert").notNull().default(false),
    /** Unread messages seen at the provider and not yet stored: the "queue" an admin waits on. */
    backlog: integer("backlog").notNull().default(0),
    syncState: jsonb("sync_state").$type<SyncState>().notNull().default({}),
    /** Bumped by every settings change so a watcher can tell a stale connection from a current one. */
    configVersion: integer("config_version").notNull().default(1),
    /** The watcher's advisory-lock key for this mailbox: unique, unlike a 32-bit hash of the id. */
    lockKey: serial("lock_key").notNull(),
    // Forwarding (issue 16): mail arrives at booking-<token>@INBOUND_DOMAIN through our own SMTP
    // server. Regenerating the token makes the old address refuse mail (550 5.1.1).
    forwardingToken: text("forwarding_token"),
    /** Sender domains ("example.com") or addresses; empty: everyone may send. */
    forwardingAllowedSenders: text("forwarding_allowed_senders").array().notNull().default(sql`'{}'::text[]`),
    /** Refuse (550 5.7.1) a message whose DMARC result is fail. */
    forwardingRefuseDmarcFail: boolean("forwarding_refuse_dmarc_fail").notNull().default(false),
    /** The newest provider verification mail (Gmail forwarding confirmation, ...) with its code/link. */
    forwardingVerification: jsonb("forwarding_verification").$type<ForwardingVerification | null>(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("mailboxes_tenant_purpose_key").on(t.tenantId, t.purpose),
    uniqueIndex("mailboxes_lock_key").on(t.lockKey),
    // Push notifications name the mailbox only by the account address (Gmail) or subscription id (Graph).
    index("mailboxes_gmail_push_idx").on(sql`lower(${t.oauthConnectedEmail})`).where(sql`${t.access} = 'gmail_api'`),
    index("mailboxes_graph_subscription_idx").on(sql`(${t.syncState} ->> 'graphSubscriptionId')`),
    uniqueIndex("mailboxes_forwarding_token_key").on(t.forwardingToken),
  ],
);

export const mailboxEventKind = pgEnum("mailbox_event_kind", [
  "connected",
  "disconnected",
  "error",
  "auth_failed",
  "token_refreshed",
  "synced",
]);

export const mailboxEvents = pgTable(
  "mailbox_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    mailboxId: uuid("mailbox_id")
      .notNull()
      .references(() => mailboxes.id, { onDelete: "cascade" }),
    kind: mailboxEventKind("kind").notNull(),
    message: text("message"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("mailbox_events_mailbox_time_idx").on(t.mailboxId, t.createdAt)],
);

export type AttachmentInfo = { filename: string | null; content_type: string; size: number };

/** Sender authentication of a message received by the inbound SMTP server (mailauth). */
export type SenderAuthResults = {
  spf: string;
  dkim: string;
  dmarc: string;
  arc: string;
  /** Domains whose DKIM signature passed. */
  dkimDomains: string[];
  /** The Authentication-Results header value mailauth wrote. */
  header: string;
  clientIp: string | null;
  helo: string | null;
  envelopeFrom: string | null;
};

/** A provider verification mail (issue 16 item 4) the admin needs to finish the forwarding setup. */
export type ForwardingVerification = {
  provider: "gmail" | "outlook" | "other";
  code: string | null;
  link: string | null;
  from: string | null;
  subject: string | null;
  receivedAt: string;
  messageId: string | null;
};

export const ingestedMessages = pgTable(
  "ingested_messages",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    // Kept when a mailbox is removed: ingested mail belongs to the tenant, not to the connection.
    mailboxId: uuid("mailbox_id").references(() => mailboxes.id, { onDelete: "set null" }),
    purpose: mailboxPurpose("purpose").notNull(),
    /** Stable id at the provider: IMAP `uidvalidity:uid`, POP3 UIDL, Gmail id, Graph id. */
    providerMessageId: text("provider_message_id").notNull(),
    messageId: text("message_id"),
    fromAddress: text("from_address"),
    toAddresses: text("to_addresses"),
    subject: text("subject"),
    sentAt: timestamp("sent_at", { withTimezone: true }),
    // Millisecond precision: the keyset cursor round-trips through a JS Date.
    receivedAt: timestamp("received_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    raw: bytea("raw").notNull(),
    size: integer("size").notNull(),
    textBody: text("text_body"),
    htmlBody: text("html_body"),
    attachments: jsonb("attachments").$type<AttachmentInfo[]>().notNull().default([]),
    status: messageStatus("status").notNull().default("queued"),
    attempts: integer("attempts").notNull().default(0),
    error: text("error"),
    processingMs: integer("processing_ms"),
    processedAt: timestamp("processed_at", { withTimezone: true }),
    /**
     * sha256 hex of the raw source (of headers + size for too_large): the second exactly-once key,
     * so a re-baseline that sees the same mail under new provider ids stores nothing twice.
     */
    contentHash: text("content_hash"),
    /** Parse defects, each naming its defect ("mbox_from_line: ..."); the message is still shown. */
    warnings: jsonb("warnings").$type<string[]>().notNull().default([]),
    /** Retry queue lease: the watcher replica processing the row, and until when (issue 13 item 8). */
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: timestamp("lease_expires_at", { withTimezone: true }),
    /** SPF/DKIM/DMARC/ARC of mail received by the inbound SMTP server; null for fetched mail. */
    authResults: jsonb("auth_results").$type<SenderAuthResults | null>(),
  },
  (t) => [
    uniqueIndex("ingested_messages_mailbox_provider_id_key").on(t.mailboxId, t.providerMessageId),
    uniqueIndex("ingested_messages_mailbox_content_hash_key").on(t.mailboxId, t.contentHash),
    index("ingested_messages_tenant_received_idx").on(t.tenantId, t.receivedAt),
    index("ingested_messages_status_idx").on(t.status),
  ],
);

/**
 * POP3 messages the start mode deliberately left out (new_only: everything there at the first
 * connect; since: everything dated before start_since). POP3 has no flags, so "not stored and not
 * here" is what new mail means. A table rather than a sync_state set: a maildrop of 50,000 kept
 * messages would make sync_state a megabyte rewritten with every cursor commit.
 */
export const pop3SkippedUids = pgTable(
  "pop3_skipped_uids",
  {
    mailboxId: uuid("mailbox_id")
      .notNull()
      .references(() => mailboxes.id, { onDelete: "cascade" }),
    uid: text("uid").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("pop3_skipped_uids_key").on(t.mailboxId, t.uid)],
);

/** Pending OAuth authorizations: makes state single-use and keeps the PKCE verifier off the browser. */
export const oauthFlows = pgTable("oauth_flows", {
  id: text("id").primaryKey(),
  tenantId: uuid("tenant_id")
    .notNull()
    .references(() => tenants.id, { onDelete: "cascade" }),
  sessionId: text("session_id").notNull(),
  provider: mailProvider("provider").notNull(),
  purpose: mailboxPurpose("purpose").notNull(),
  access: mailAccess("access").notNull(),
  codeVerifierEncrypted: text("code_verifier_encrypted").notNull(),
  expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  usedAt: timestamp("used_at", { withTimezone: true }),
});

export const tenantsRelations = relations(tenants, ({ many }) => ({
  users: many(users),
  mailboxes: many(mailboxes),
}));
export const usersRelations = relations(users, ({ one }) => ({
  tenant: one(tenants, { fields: [users.tenantId], references: [tenants.id] }),
}));
export const mailboxesRelations = relations(mailboxes, ({ one, many }) => ({
  tenant: one(tenants, { fields: [mailboxes.tenantId], references: [tenants.id] }),
  events: many(mailboxEvents),
}));

export type Tenant = typeof tenants.$inferSelect;
export type User = typeof users.$inferSelect;
export type Session = typeof sessions.$inferSelect;
export type Mailbox = typeof mailboxes.$inferSelect;
export type NewMailbox = typeof mailboxes.$inferInsert;
export type MailboxEvent = typeof mailboxEvents.$inferSelect;
export type IngestedMessage = typeof ingestedMessages.$inferSelect;
export type NewIngestedMessage = typeof ingestedMessages.$inferInsert;
export type MailboxPurpose = (typeof mailboxPurpose.enumValues)[number];
export type MailboxStatus = (typeof mailboxStatus.enumValues)[number];
export type MailboxStartMode = (typeof mailboxStartMode.enumValues)[number];
export type MailboxAfterIngest = (typeof mailboxAfterIngest.enumValues)[number];
export type MailAccess = (typeof mailAccess.enumValues)[number];
export type MailProviderName = (typeof mailProvider.enumValues)[number];
export type OAuthFlow = typeof oauthFlows.$inferSelect;

/**
 * Watcher replicas that are running now (issue 7): each one upserts its row every reconcile and
 * holds a presence advisory lock on its own connection, so the others know how many share the
 * mailboxes (fair share = ceil(mailboxes / live replicas)) even right after a replica was killed.
 */
export const watcherReplicas = pgTable("watcher_replicas", {
  id: text("id").primaryKey(),
  startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
  heartbeatAt: timestamp("heartbeat_at", { withTimezone: true }).notNull().defaultNow(),
});
export type WatcherReplica = typeof watcherReplicas.$inferSelect;

// ---- Webhooks to downstream systems (issue 15 items 5-6) ----

/** A tenant's webhook endpoint. The signing secret (whsec_...) is Fernet-encrypted; shown once. */
export const webhookEndpoints = pgTable(
  "webhook_endpoints",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    secretEncrypted: text("secret_encrypted").notNull(),
    /** Event types it receives: message.received, mailbox.status_changed. */
    eventTypes: jsonb("event_types").$type<string[]>().notNull().default(["message.received", "mailbox.status_changed"]),
    /** Raw sources up to this many bytes go inline (base64) in message.received; 0 = link only. */
    inlineRawMaxBytes: integer("inline_raw_max_bytes").notNull().default(0),
    enabled: boolean("enabled").notNull().default(true),
    secretRotatedAt: timestamp("secret_rotated_at", { withTimezone: true }).notNull().defaultNow(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("webhook_endpoints_tenant_idx").on(t.tenantId)],
);

/**
 * One event, written in the same transaction as the row it describes. Its id is the Standard
 * Webhooks `webhook-id` (the receiver's idempotency key). The payload is built at delivery from the
 * message row (message.received) or `data` (mailbox.status_changed).
 */
export const webhookEvents = pgTable(
  "webhook_events",
  {
    id: text("id").primaryKey(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    type: text("type").notNull(),
    messageId: uuid("message_id").references(() => ingestedMessages.id, { onDelete: "set null" }),
    mailboxId: uuid("mailbox_id").references(() => mailboxes.id, { onDelete: "set null" }),
    data: jsonb("data").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    index("webhook_events_tenant_time_idx").on(t.tenantId, t.createdAt),
    index("webhook_events_mailbox_time_idx").on(t.mailboxId, t.createdAt),
  ],
);

export const webhookDeliveryStatus = pgEnum("webhook_delivery_status", ["pending", "succeeded", "failed"]);

/** The delivery log: one row per event and endpoint; retried with backoff for a day, then failed. */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    eventId: text("event_id")
      .notNull()
      .references(() => webhookEvents.id, { onDelete: "cascade" }),
    endpointId: uuid("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    status: webhookDeliveryStatus("status").notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    lastAttemptAt: timestamp("last_attempt_at", { withTimezone: true }),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }),
    lastStatusCode: integer("last_status_code"),
    /** The start of the receiver's answer (or our connection error), for the log in the UI. */
    lastResponse: text("last_response"),
    deliveredAt: timestamp("delivered_at", { withTimezone: true, precision: 3 }),
    /** When the current retry window began (creation, or the last replay). */
    windowStartedAt: timestamp("window_started_at", { withTimezone: true }).notNull().defaultNow(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_event_endpoint_key").on(t.eventId, t.endpointId),
    index("webhook_deliveries_tenant_time_idx").on(t.tenantId, t.createdAt),
  ],
);
export type WebhookEndpoint = typeof webhookEndpoints.$inferSelect;
export type WebhookEvent = typeof webhookEvents.$inferSelect;
export type WebhookDelivery = typeof webhookDeliveries.$inferSelect;

/**
 * Issue 15: what the admins of a mailbox have been told, and what is pending (one row per mailbox,
 * written in the same transaction as every status change). lib/alerts/alert-state.ts decides; the
 * alert scan picks rows whose due_at has passed (one indexed query, not a timer per mailbox).
 */
export const mailboxAlerts = pgTable(
  "mailbox_alerts",
  {
    mailboxId: uuid("mailbox_id")
      .primaryKey()
      .references(() => mailboxes.id, { onDelete: "cascade" }),
    /** The status category last written: healthy, failing or neutral (connecting, disabled). */
    observed: text("observed").notNull().default("healthy"),
    observedCode: text("observed_code"),
    /** Since when the mailbox has been failing (null while healthy), or healthy (null while failing). */
    failingSince: timestamp("failing_since", { withTimezone: true }),
    healthySince: timestamp("healthy_since", { withTimezone: true }),
    /** What the admins were last told: ok (nothing / recovered) or failing. */
    alerted: text("alerted").notNull().default("ok"),
    alertedCode: text("alerted_code"),
    alertedAt: timestamp("alerted_at", { withTimezone: true }),
    /** When the scan must look at this row again; null: nothing pending. */
    dueAt: timestamp("due_at", { withTimezone: true }),
    /** Quiet-mailbox warning sent at (cleared once mail arrives again). */
    quietWarnedAt: timestamp("quiet_warned_at", { withTimezone: true }),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("mailbox_alerts_due_idx").on(t.dueAt).where(sql`${t.dueAt} IS NOT NULL`)],
);
export type MailboxAlert = typeof mailboxAlerts.$inferSelect;

/** Issue 15: every alert decided (failure, recovery, quiet), for the in-app notices and the mail job. */
export const alertNotifications = pgTable(
  "alert_notifications",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    mailboxId: uuid("mailbox_id").references(() => mailboxes.id, { onDelete: "cascade" }),
    kind: text("kind").$type<"failure" | "recovery" | "quiet">().notNull(),
    code: text("code"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    /** Mail to every admin done (or nothing to send: no SMTP, nobody opted in). */
    mailedAt: timestamp("mailed_at", { withTimezone: true }),
  },
  (t) => [
    index("alert_notifications_tenant_idx").on(t.tenantId, t.createdAt),
    index("alert_notifications_unmailed_idx").on(t.createdAt).where(sql`${t.mailedAt} IS NULL`),
  ],
);
export type AlertNotification = typeof alertNotifications.$inferSelect;

/** Issue 15: one row per alert and recipient once mailed, so a retried job never mails anyone twice. */
export const alertDeliveries = pgTable(
  "alert_deliveries",
  {
    notificationId: uuid("notification_id")
      .notNull()
      .references(() => alertNotifications.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    email: text("email").notNull(),
    locale: text("locale").notNull(),
    sentAt: timestamp("sent_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("alert_deliveries_key").on(t.notificationId, t.userId)],
);
