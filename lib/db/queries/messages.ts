import { and, desc, eq, gte, inArray, isNull, lt, or, sql, type SQL } from "drizzle-orm";
import type { PgUpdateSetSource } from "drizzle-orm/pg-core";
import { getDb } from "@/lib/db/client";
import { buildColumnarInsert } from "./columnar-insert";
import { notifyChange } from "./mailbox-changes";
import { sanitizeJson, sanitizeText } from "@/lib/ingest/sanitize";
import { recordWebhookEvents } from "@/lib/webhooks/record-events";
import { tenantHasWebhooks } from "./webhooks";
import {
  ingestedMessages,
  mailboxes,
  type IngestedMessage,
  type MailboxPurpose,
  type NewIngestedMessage,
  type SyncState,
} from "@/lib/db/schema";

export type MessageSummary = Omit<IngestedMessage, "raw" | "textBody" | "htmlBody">;

/** A stored message without its raw source and HTML: the list's row, and the webhook payload's base. */
export const messageSummaryColumns = {
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
  contentHash: ingestedMessages.contentHash,
  warnings: ingestedMessages.warnings,
  leaseOwner: ingestedMessages.leaseOwner,
  leaseExpiresAt: ingestedMessages.leaseExpiresAt,
  authResults: ingestedMessages.authResults,
};

export type InsertOutcome = {
  /** Rows new in the database (conflicts on either key are rows already there, not errors). */
  inserted: number;
  /** Provider ids of rows the database refused even sanitised: stored as failed instead. */
  refusedProviderIds: string[];
};

export type BatchCommit = {
  rows: NewIngestedMessage[];
  mailboxId: string;
  /** Merged into mailboxes.sync_state (jsonb ||) in the same transaction as the rows. */
  cursor?: Partial<SyncState>;
  /** Also records the mailbox's successful sync (last_success_at, backlog). */
  recordSync?: { backlog: number };
  /** Whether the tenant has a message.received webhook, when the caller already looked it up (group commit). */
  hasWebhooks?: boolean;
};

export class StoreBatchError extends Error {
  override name = "StoreBatchError";
}

/** The database's own words (never the statement's parameters, which hold mail content). */
export function describeDatabaseError(error: unknown): string {
  for (let e: unknown = error, depth = 0; e && typeof e === "object" && depth < 4; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && typeof message === "string") return `${message} (SQLSTATE ${code})`;
    e = (e as { cause?: unknown }).cause;
  }
  return "unknown database error";
}

// Not exported: the return type is drizzle's update builder, for use as a statement or a CTE.
function mailboxUpdate(db: Pick<ReturnType<typeof getDb>, "update">, { mailboxId, cursor, recordSync }: Omit<BatchCommit, "rows">) {
  const set: PgUpdateSetSource<typeof mailboxes> = {};
  if (cursor && Object.keys(cursor).length > 0) {
    set.syncState = sql`${mailboxes.syncState} || ${JSON.stringify(sanitizeJson(cursor))}::jsonb`;
  }
  if (recordSync) {
    set.lastSuccessAt = sql`now()`;
    set.backlog = recordSync.backlog;
  }
  if (Object.keys(set).length === 0) return null;
  return db.update(mailboxes).set(set).where(eq(mailboxes.id, mailboxId));
}

/**
 * Stores a batch and the mailbox's cursor atomically. Fast path: ONE statement (the INSERT and the
 * mailboxes UPDATE as data-modifying CTEs: one round trip and one WAL flush per batch, which is
 * what a burst into 2,000 mailboxes waits on). ON CONFLICT DO NOTHING without a target covers both
 * unique keys, (mailbox, provider id) and (mailbox, content hash), so a re-fetch after a crash or a
 * re-baseline under new provider ids is a no-op.
 *
 * If the database refuses the statement (one row it cannot store), the batch is stored again in
 * one transaction, each row under its own savepoint: a refused row is stored alone as `failed`
 * with its raw source and the database's reason, the others as they are, then the cursor. One
 * message can never block its batch, and the cursor is never committed without its rows.
 */
export async function insertIngestedMessages({ rows, mailboxId, cursor, recordSync, hasWebhooks }: BatchCommit): Promise<InsertOutcome> {
  const db = getDb();
  const update = mailboxUpdate(db, { mailboxId, ...(cursor ? { cursor } : {}), ...(recordSync ? { recordSync } : {}) });
  if (rows.length === 0) {
    if (update) await update;
    return { inserted: 0, refusedProviderIds: [] };
  }
  let insertedIds: string[];
  // Issue 15: a tenant with a webhook gets its message.received events (and their delivery jobs)
  // in the same transaction as the rows; every other tenant keeps the one-statement path.
  const webhooks = hasWebhooks ?? (await tenantHasWebhooks({ tenantId: (rows[0] as NewIngestedMessage).tenantId, type: "message.received" }));
  try {
    if (webhooks) {
      insertedIds = await insertWithWebhookEvents({ rows, mailboxId, update });
      if (insertedIds.length < rows.length) await upgradeTooLargeRows(rows, new Set(insertedIds));
      return { inserted: insertedIds.length, refusedProviderIds: [] };
    }
    const insert = rowsInsert(rows, sql`provider_message_id`);
    // With an update, both sub-statements run in the one implicit transaction; the UPDATE runs even
    // when every row was already stored (a re-fetch after a crash is still a successful sync).
    const result = await db.execute<{ provider_message_id: string }>(
      update ? sql`WITH ins AS (${insert}), upd AS ${update} SELECT provider_message_id FROM ins` : insert,
    );
    insertedIds = result.rows.map((r) => r.provider_message_id);
  } catch (batchError) {
    void batchError; // the row-by-row pass finds and records the row the database refused
    try {
      return await insertRowByRow({ rows, mailboxId, ...(cursor ? { cursor } : {}), ...(recordSync ? { recordSync } : {}) }, webhooks);
    } catch (err) {
      // drizzle's error text carries the statement's parameters (mail content, raw bytes): the
      // watcher logs this error, so it gets the database's reason only, and no cause.
      throw new StoreBatchError(`Storing the batch failed: ${describeDatabaseError(err)}`);
    }
  }
  if (insertedIds.length < rows.length) await upgradeTooLargeRows(rows, new Set(insertedIds));
  return { inserted: insertedIds.length, refusedProviderIds: [] };
}

/**
 * A whole message whose provider id is already stored as too_large (the limit was raised and the
 * provider fetched it again) replaces that headers-only row. Rare, so one statement per such row,
 * after the batch: the too_large row already holds the id, so nothing is lost if this never runs.
 */
export async function upgradeTooLargeRows(rows: NewIngestedMessage[], insertedIds: Set<string>): Promise<void> {
  for (const row of rows) {
    if (row.status === "too_large" || insertedIds.has(row.providerMessageId) || !row.mailboxId) continue;
    const { id: _id, tenantId: _tenant, mailboxId, providerMessageId, ...fields } = row;
    try {
      await getDb()
        .update(ingestedMessages)
        .set(fields)
        .where(
          and(
            eq(ingestedMessages.mailboxId, mailboxId),
            eq(ingestedMessages.providerMessageId, providerMessageId),
            eq(ingestedMessages.status, "too_large"),
          ),
        );
    } catch {
      // Its content is already stored under another id (content-hash key): the too_large row stays.
    }
  }
}

/**
 * `INSERT ... ON CONFLICT DO NOTHING RETURNING <returning>` for many rows: one array parameter per
 * column (columnar-insert.ts), or drizzle's per-value builder for rows that cannot share one unnest.
 */
export function rowsInsert(rows: NewIngestedMessage[], returning: SQL): SQL {
  return buildColumnarInsert(rows, returning) ?? sql`${getDb().insert(ingestedMessages).values(rows).onConflictDoNothing().getSQL()} RETURNING ${returning}`;
}

/** The fast path's statement inside a transaction that also records the rows' webhook events. */
async function insertWithWebhookEvents({
  rows,
  mailboxId,
  update,
}: {
  rows: NewIngestedMessage[];
  mailboxId: string;
  update: ReturnType<typeof mailboxUpdate>;
}): Promise<string[]> {
  const insert = rowsInsert(rows, sql`id, provider_message_id`);
  return getDb().transaction(async (tx) => {
    const result = await tx.execute<{ id: string; provider_message_id: string }>(
      update ? sql`WITH ins AS (${insert}), upd AS ${update} SELECT id, provider_message_id FROM ins` : insert,
    );
    const tenantId = (rows[0] as NewIngestedMessage).tenantId;
    await recordWebhookEvents({ tx, tenantId, type: "message.received", events: result.rows.map((r) => ({ messageId: r.id, mailboxId })) });
    return result.rows.map((r) => r.provider_message_id);
  });
}

async function insertRowByRow(commit: BatchCommit, webhooks = false): Promise<InsertOutcome> {
  return getDb().transaction(async (tx) => {
    const storedIds: string[] = [];
    const stored = (ids: { id: string }[]): number => (storedIds.push(...ids.map((r) => r.id)), ids.length);
    let inserted = 0;
    const refusedProviderIds: string[] = [];
    for (const row of commit.rows) {
      try {
        inserted += await tx.transaction(
          async (sp) => stored(await sp.insert(ingestedMessages).values(row).onConflictDoNothing().returning({ id: ingestedMessages.id })),
        );
      } catch (rowError) {
        const reason = describeDatabaseError(rowError);
        refusedProviderIds.push(row.providerMessageId);
        // Only what cannot hold mail content: the raw source in bytea, ids, sizes, the reason.
        inserted += await tx.transaction(
          async (sp) =>
            stored(
              await sp
                .insert(ingestedMessages)
                .values({
                  tenantId: row.tenantId,
                  mailboxId: row.mailboxId,
                  purpose: row.purpose,
                  providerMessageId: sanitizeText(row.providerMessageId),
                  raw: row.raw,
                  size: row.size,
                  contentHash: row.contentHash,
                  ...(row.receivedAt ? { receivedAt: row.receivedAt } : {}),
                  status: "failed",
                  attempts: row.attempts ?? 1,
                  processingMs: row.processingMs,
                  processedAt: row.processedAt,
                  error: `The database refused this message: ${reason}. Its raw source is kept; retry it after an update.`,
                })
                .onConflictDoNothing()
                .returning({ id: ingestedMessages.id }),
            ),
        );
      }
    }
    const update = mailboxUpdate(tx, commit);
    if (update) await update;
    const tenantId = commit.rows[0]?.tenantId;
    if (webhooks && tenantId) {
      await recordWebhookEvents({ tx, tenantId, type: "message.received", events: storedIds.map((messageId) => ({ messageId, mailboxId: commit.mailboxId })) });
    }
    return { inserted, refusedProviderIds };
  });
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
    .select(messageSummaryColumns)
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
      .set({ status: "queued", error: null, leaseOwner: null, leaseExpiresAt: null })
      .where(eq(ingestedMessages.id, messageId));
    await notifyChange({ op: "queued", message_id: messageId }, tx);
    return "requeued";
  });
}

/**
 * Claims queued rows, and rows whose lease expired (their watcher died mid-parse), for `owner`
 * until now + leaseMs. SKIP LOCKED lets several replicas share the queue; the lease, not "whoever
 * starts next", decides when a row left in `processing` is taken over (issue 13 item 8).
 */
export async function claimQueuedMessages({
  owner,
  limit,
  leaseMs,
}: {
  owner: string;
  limit: number;
  leaseMs: number;
}): Promise<IngestedMessage[]> {
  return getDb().transaction(async (tx) => {
    const ids = await tx
      .select({ id: ingestedMessages.id })
      .from(ingestedMessages)
      .where(
        or(
          eq(ingestedMessages.status, "queued"),
          and(
            eq(ingestedMessages.status, "processing"),
            or(isNull(ingestedMessages.leaseExpiresAt), lt(ingestedMessages.leaseExpiresAt, sql`now()`)),
          ),
        ),
      )
      .orderBy(ingestedMessages.receivedAt)
      .limit(limit)
      .for("update", { skipLocked: true });
    if (ids.length === 0) return [];
    return tx
      .update(ingestedMessages)
      .set({
        status: "processing",
        attempts: sql`${ingestedMessages.attempts} + 1`,
        leaseOwner: owner,
        leaseExpiresAt: sql`now() + ${`${leaseMs} milliseconds`}::interval`,
      })
      .where(
        inArray(
          ingestedMessages.id,
          ids.map((r) => r.id),
        ),
      )
      .returning();
  });
}

/** Extends the lease of rows `owner` still holds; returns the ids it still holds. */
export async function renewMessageLeases({
  owner,
  messageIds,
  leaseMs,
}: {
  owner: string;
  messageIds: string[];
  leaseMs: number;
}): Promise<string[]> {
  if (messageIds.length === 0) return [];
  const rows = await getDb()
    .update(ingestedMessages)
    .set({ leaseExpiresAt: sql`now() + ${`${leaseMs} milliseconds`}::interval` })
    .where(
      and(
        inArray(ingestedMessages.id, messageIds),
        eq(ingestedMessages.status, "processing"),
        eq(ingestedMessages.leaseOwner, owner),
      ),
    )
    .returning({ id: ingestedMessages.id });
  return rows.map((r) => r.id);
}

/**
 * Finishes a claimed row, only while `owner` still holds it: a replica whose lease ran out (and
 * whose row another replica took over) must not overwrite that replica's result. Returns whether
 * it did.
 */
export async function completeMessageProcessing({
  messageId,
  owner,
  fields,
}: {
  messageId: string;
  owner: string;
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
    | "warnings"
  >;
}): Promise<boolean> {
  const rows = await getDb()
    .update(ingestedMessages)
    .set({ ...fields, processedAt: sql`now()`, leaseOwner: null, leaseExpiresAt: null })
    .where(
      and(
        eq(ingestedMessages.id, messageId),
        eq(ingestedMessages.status, "processing"),
        eq(ingestedMessages.leaseOwner, owner),
      ),
    )
    .returning({ id: ingestedMessages.id });
  return rows.length > 0;
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
