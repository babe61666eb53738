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
export const mailProvider = pgEnum("mail_provider", ["imap", "google", "microsoft"]);
export const mailAccess = pgEnum("mail_access", ["imap", "pop3", "gmail_api", "graph_api"]);
export const authMethod = pgEnum("auth_method", ["password", "app_password", "oauth2"]);
/** implicit: TLS from the first byte; starttls: upgrade required (fail if not offered); none: plaintext, chosen explicitly. */
export const mailTlsMode = pgEnum("mail_tls_mode", ["implicit", "starttls", "none"]);
export const mailboxStatus = pgEnum("mailbox_status", [
  "connecting",
  "connected",
  "disconnected",
  "error",
  "needs_reauth",
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
  /** Newest receivedAt (ISO) among the stored messages of Gmail/Graph: where a re-baseline after an expired cursor starts. */
  apiLastReceivedAt?: string;
  /** POP3: the start mode's baseline has been taken (ISO time); the UIDL set is the cursor from then on. */
  pop3BaselineAt?: string;
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
    // Health (seed §3.1 *_email_* columns); 24 h counts come from mailbox_events
    status: mailboxStatus("status").notNull().default("disconnected"),
    statusChangedAt: timestamp("status_changed_at", { withTimezone: true }).notNull().defaultNow(),
    lastSuccessAt: timestamp("last_success_at", { withTimezone: true }),
    lastError: text("last_error"),
    lastErrorAt: timestamp("last_error_at", { withTimezone: true }),
    /** last_error's stable code (lib/api/error-codes.ts): what the UI translates; null without error. */
    lastErrorCode: text("last_error_code"),
    /** Unread messages seen at the provider and not yet stored: the "queue" an admin waits on. */
    backlog: integer("backlog").notNull().default(0),
    syncState: jsonb("sync_state").$type<SyncState>().notNull().default({}),
    /** Bumped by every settings change so a watcher can tell a stale connection from a current one. */
    configVersion: integer("config_version").notNull().default(1),
    /** The watcher's advisory-lock key for this mailbox: unique, unlike a 32-bit hash of the id. */
    lockKey: serial("lock_key").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("mailboxes_tenant_purpose_key").on(t.tenantId, t.purpose),
    uniqueIndex("mailboxes_lock_key").on(t.lockKey),
    // Push notifications name the mailbox only by the account address (Gmail) or subscription id (Graph).
    index("mailboxes_gmail_push_idx").on(sql`lower(${t.oauthConnectedEmail})`).where(sql`${t.access} = 'gmail_api'`),
    index("mailboxes_graph_subscription_idx").on(sql`(${t.syncState} ->> 'graphSubscriptionId')`),
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
