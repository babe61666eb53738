import { and, desc, eq, gte, inArray, lt, or, sql } from "drizzle-orm";
import { getDb } from "../client";
import { notifyChange } from "./mailboxes";
import {
  ingestedMessages,
  mailboxes,
  type IngestedMessage,
  type MailboxPurpose,
  type NewIngestedMessage,
  type SyncState,
} from "../schema";

export type MessageSummary = Omit<IngestedMessage, "raw" | "textBody" | "htmlBody">;

const summaryColumns = {
  id: ingestedMessages.id,
  tenantId: ingestedMessages.tenantId,
  mailboxId: ingestedMessages.mailboxId,
  purpose: ingestedMessages.purpose,
  providerMessageId: ingestedMessages.providerMessageId,
  messageId: ingestedMessages.messageId,
  fromAddress: ingestedMessages.fromAddress,
  toAddresses: ingestedMessages.toAddresses,
  subject: ingestedMessages.subject,
  sentAt: ingestedMessages.sentAt,
  receivedAt: ingestedMessages.receivedAt,
  size: ingestedMessages.size,
  attachments: ingestedMessages.attachments,
  status: ingestedMessages.status,
  attempts: ingestedMessages.attempts,
  error: ingestedMessages.error,
  processingMs: ingestedMessages.processingMs,
  processedAt: ingestedMessages.processedAt,
};

/**
 * Stores a batch in one statement. The unique (mailbox, provider id) key makes a re-fetch after a
 * crash a no-op, which is what keeps ingestion exactly-once. Returns the provider ids now stored
 * (new or already there), i.e. those safe for the after-ingest action.
 *
 * With `recordSync` and/or `syncStatePatch`, the same statement also records the mailbox's
 * successful sync (`last_success_at`, `backlog`) and merges the provider cursor into sync_state in
 * a data-modifying CTE: rows and cursor commit together (issue 13), in one round trip.
 * (core's interim version; store owns the final insert path.)
 */
export async function insertIngestedMessages({
  rows,
  recordSync,
  syncStatePatch,
}: {
  rows: NewIngestedMessage[];
  recordSync?: { mailboxId: string; backlog: number };
  syncStatePatch?: { mailboxId: string; patch: Partial<SyncState> };
}): Promise<{ inserted: number; storedProviderIds: string[] }> {
  const db = getDb();
  const mailboxId = recordSync?.mailboxId ?? syncStatePatch?.mailboxId;
  const update =
    mailboxId === undefined
      ? null
      : db
          .update(mailboxes)
          .set({
            ...(recordSync ? { lastSuccessAt: sql`now()`, backlog: recordSync.backlog } : {}),
            ...(syncStatePatch ? { syncState: sql`${mailboxes.syncState} || ${JSON.stringify(syncStatePatch.patch)}::jsonb` } : {}),
          })
          .where(eq(mailboxes.id, mailboxId));
  if (rows.length === 0) {
    if (update) await update;
    return { inserted: 0, storedProviderIds: [] };
  }
  const insert = db
    .insert(ingestedMessages)
    .values(rows)
    .onConflictDoNothing({ target: [ingestedMessages.mailboxId, ingestedMessages.providerMessageId] })
    .returning({ id: ingestedMessages.id });
  const storedProviderIds = rows.map((r) => r.providerMessageId);
  if (!update) return { inserted: (await insert).length, storedProviderIds };
  // Both sub-statements run in the one implicit transaction; the UPDATE runs even when every row
  // was already stored (a re-fetch after a crash is still a successful sync).
  const result = await db.execute<{ inserted: number }>(
    sql`WITH ins AS ${insert}, upd AS ${update} SELECT count(*)::int AS inserted FROM ins`,
  );
  return { inserted: Number(result.rows[0]?.inserted ?? 0), storedProviderIds };
}

/**
 * TEMPORARY (core, until store's content_hash unique key lands): which of these raw sources are
 * already stored for the mailbox under another provider id, by sha256 of the bytes: a re-baseline
 * after a UIDVALIDITY change meets mail it stored under the old UIDs. A scan of the mailbox's
 * rows per batch: acceptable only until the indexed key replaces it.
 */
export async function listStoredContentHashes({ mailboxId, hashes }: { mailboxId: string; hashes: string[] }): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const result = await getDb().execute<{ h: string }>(sql`
    SELECT encode(sha256(raw), 'hex') AS h FROM ingested_messages
    WHERE mailbox_id = ${mailboxId} AND encode(sha256(raw), 'hex') IN (${sql.join(
      hashes.map((h) => sql`${h}`),
      sql`, `,
    )})`);
  return new Set(result.rows.map((r) => r.h));
}

export async function listMessages({
  tenantId,
  purpose,
  status,
  limit,
  cursor,
}: {
  tenantId: string;
  purpose?: MailboxPurpose;
  status?: IngestedMessage["status"];
  limit: number;
  cursor?: { receivedAt: Date; id: string };
}): Promise<MessageSummary[]> {
  const where = and(
    eq(ingestedMessages.tenantId, tenantId),
    purpose ? eq(ingestedMessages.purpose, purpose) : undefined,
    status ? eq(ingestedMessages.status, status) : undefined,
    cursor
      ? or(
          lt(ingestedMessages.receivedAt, cursor.receivedAt),
          and(eq(ingestedMessages.receivedAt, cursor.receivedAt), lt(ingestedMessages.id, cursor.id)),
        )
      : undefined,
  );
  return getDb()
    .select(summaryColumns)
    .from(ingestedMessages)
    .where(where)
    .orderBy(desc(ingestedMessages.receivedAt), desc(ingestedMessages.id))
    .limit(limit);
}

export async function getMessage({
  tenantId,
  messageId,
}: {
  tenantId: string;
  messageId: string;
}): Promise<IngestedMessage | null> {
  const [row] = await getDb()
    .select()
    .from(ingestedMessages)
    .where(and(eq(ingestedMessages.tenantId, tenantId), eq(ingestedMessages.id, messageId)));
  return row ?? null;
}

/** Puts a failed message back in the queue; the watcher re-processes queued rows. */
export async function requeueFailedMessage({
  tenantId,
  messageId,
}: {
  tenantId: string;
  messageId: string;
}): Promise<"requeued" | "not_found" | "not_failed"> {
  return getDb().transaction(async (tx) => {
    const [row] = await tx
      .select({ status: ingestedMessages.status })
      .from(ingestedMessages)
      .where(and(eq(ingestedMessages.tenantId, tenantId), eq(ingestedMessages.id, messageId)))
      .for("update");
    if (!row) return "not_found";
    if (row.status !== "failed") return "not_failed";
    await tx
      .update(ingestedMessages)
      .set({ status: "queued", error: null })
      .where(eq(ingestedMessages.id, messageId));
    await notifyChange({ op: "queued", message_id: messageId }, tx);
    return "requeued";
  });
}

/** Claims queued rows for processing; SKIP LOCKED lets several watchers share the queue. */
export async function claimQueuedMessages({ limit }: { limit: number }): Promise<IngestedMessage[]> {
  return getDb().transaction(async (tx) => {
    const ids = await tx
      .select({ id: ingestedMessages.id })
      .from(ingestedMessages)
      .where(eq(ingestedMessages.status, "queued"))
      .orderBy(ingestedMessages.receivedAt)
      .limit(limit)
      .for("update", { skipLocked: true });
    if (ids.length === 0) return [];
    return tx
      .update(ingestedMessages)
      .set({ status: "processing", attempts: sql`${ingestedMessages.attempts} + 1` })
      .where(
        inArray(
          ingestedMessages.id,
          ids.map((r) => r.id),
        ),
      )
      .returning();
  });
}

export async function completeMessageProcessing({
  messageId,
  fields,
}: {
  messageId: string;
  fields: Pick<
    NewIngestedMessage,
    | "status"
    | "error"
    | "processingMs"
    | "messageId"
    | "fromAddress"
    | "toAddresses"
    | "subject"
    | "sentAt"
    | "textBody"
    | "htmlBody"
    | "attachments"
  >;
}): Promise<void> {
  await getDb()
    .update(ingestedMessages)
    .set({ ...fields, processedAt: sql`now()` })
    .where(eq(ingestedMessages.id, messageId));
}

/** Rows left in `processing` by a watcher that died are queued again at start. */
export async function requeueStaleProcessing(): Promise<number> {
  const rows = await getDb()
    .update(ingestedMessages)
    .set({ status: "queued" })
    .where(eq(ingestedMessages.status, "processing"))
    .returning({ id: ingestedMessages.id });
  return rows.length;
}

export type PurposeStats = {
  processed_24h: number;
  failed_24h: number;
  avg_processing_time_ms: number;
  queue_size: number;
};

/** 24 h counts from message timestamps plus the unread backlog still waiting at the providers. */
export async function getMessageStats({
  tenantId,
  since,
}: {
  tenantId: string;
  since: Date;
}): Promise<Record<MailboxPurpose, PurposeStats>> {
  const rows = await getDb()
    .select({
      purpose: ingestedMessages.purpose,
      processed: sql<number>`count(*) FILTER (WHERE ${ingestedMessages.status} = 'processed' AND ${ingestedMessages.receivedAt} >= ${since})::int`,
      failed: sql<number>`count(*) FILTER (WHERE ${ingestedMessages.status} = 'failed' AND ${ingestedMessages.receivedAt} >= ${since})::int`,
      avgMs: sql<number>`coalesce(avg(${ingestedMessages.processingMs}) FILTER (WHERE ${ingestedMessages.receivedAt} >= ${since}), 0)::float8`,
      queued: sql<number>`count(*) FILTER (WHERE ${ingestedMessages.status} IN ('queued', 'processing'))::int`,
    })
    .from(ingestedMessages)
    .where(eq(ingestedMessages.tenantId, tenantId))
    .groupBy(ingestedMessages.purpose);
  const backlog = await getDb()
    .select({ purpose: mailboxes.purpose, backlog: mailboxes.backlog })
    .from(mailboxes)
    .where(eq(mailboxes.tenantId, tenantId));
  const empty = (): PurposeStats => ({ processed_24h: 0, failed_24h: 0, avg_processing_time_ms: 0, queue_size: 0 });
  const stats: Record<MailboxPurpose, PurposeStats> = { booking: empty(), stopsale: empty() };
  for (const r of rows) {
    stats[r.purpose] = {
      processed_24h: r.processed,
      failed_24h: r.failed,
      avg_processing_time_ms: Math.round(r.avgMs * 10) / 10,
      queue_size: r.queued,
    };
  }
  for (const b of backlog) stats[b.purpose].queue_size += b.backlog;
  return stats;
}

export type HourlyPoint = { hour: string; processed: number; failed: number };

export async function getHourlyMessageCounts({
  tenantId,
  purpose,
  since,
}: {
  tenantId: string;
  purpose: MailboxPurpose;
  since: Date;
}): Promise<HourlyPoint[]> {
  const rows = await getDb().execute<{ hour: Date | string; processed: number; failed: number }>(sql`
    SELECT date_trunc('hour', received_at) AS hour,
           count(*) FILTER (WHERE status = 'processed')::int AS processed,
           count(*) FILTER (WHERE status = 'failed')::int AS failed
    FROM ingested_messages
    WHERE tenant_id = ${tenantId} AND purpose = ${purpose} AND received_at >= ${since}
    GROUP BY 1 ORDER BY 1`);
  return rows.rows.map((r) => ({
    hour: new Date(r.hour).toISOString(),
    processed: Number(r.processed),
    failed: Number(r.failed),
  }));
}

export async function countMailboxMessages({ mailboxId }: { mailboxId: string }): Promise<number> {
  const [row] = await getDb()
    .select({ n: sql<number>`count(*)::int` })
    .from(ingestedMessages)
    .where(eq(ingestedMessages.mailboxId, mailboxId));
  return row?.n ?? 0;
}

/** Messages of the mailbox stored too_large (headers only, left at the provider) since `since`. */
export async function countTooLargeMessages({ mailboxId, since }: { mailboxId: string; since: Date }): Promise<number> {
  const [row] = await getDb()
    .select({ n: sql<number>`count(*)::int` })
    .from(ingestedMessages)
    .where(and(eq(ingestedMessages.mailboxId, mailboxId), eq(ingestedMessages.status, "too_large"), gte(ingestedMessages.processedAt, since)));
  return row?.n ?? 0;
}
