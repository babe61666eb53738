import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";
import { getDb } from "@/lib/db/client";
import {
  ingestedMessages,
  webhookDeliveries,
  webhookEndpoints,
  webhookEvents,
  type IngestedMessage,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEvent,
} from "@/lib/db/schema";
import type { Transaction } from "./job-queue";
import { messageSummaryColumns } from "./messages";

export type WebhookEventType = "message.received" | "mailbox.status_changed";

// ---- endpoints ----

export async function listWebhookEndpoints({ tenantId }: { tenantId: string }): Promise<WebhookEndpoint[]> {
  return getDb().select().from(webhookEndpoints).where(eq(webhookEndpoints.tenantId, tenantId)).orderBy(webhookEndpoints.createdAt);
}

export async function getWebhookEndpoint({ tenantId, endpointId }: { tenantId: string; endpointId: string }): Promise<WebhookEndpoint | null> {
  const [row] = await getDb()
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, endpointId), eq(webhookEndpoints.tenantId, tenantId)));
  return row ?? null;
}

export async function createWebhookEndpoint({
  tenantId,
  url,
  secretEncrypted,
  eventTypes,
  inlineRawMaxBytes,
}: {
  tenantId: string;
  url: string;
  secretEncrypted: string;
  eventTypes: WebhookEventType[];
  inlineRawMaxBytes: number;
}): Promise<WebhookEndpoint> {
  const [row] = await getDb()
    .insert(webhookEndpoints)
    .values({ tenantId, url, secretEncrypted, eventTypes, inlineRawMaxBytes })
    .returning();
  return row as WebhookEndpoint;
}

export async function updateWebhookEndpoint({
  tenantId,
  endpointId,
  fields,
}: {
  tenantId: string;
  endpointId: string;
  fields: Partial<Pick<WebhookEndpoint, "url" | "eventTypes" | "inlineRawMaxBytes" | "enabled" | "secretEncrypted">>;
}): Promise<WebhookEndpoint | null> {
  const set = { ...fields, ...(fields.secretEncrypted ? { secretRotatedAt: sql`now()` } : {}) };
  const [row] = await getDb()
    .update(webhookEndpoints)
    .set(set)
    .where(and(eq(webhookEndpoints.id, endpointId), eq(webhookEndpoints.tenantId, tenantId)))
    .returning();
  return row ?? null;
}

export async function deleteWebhookEndpoint({ tenantId, endpointId }: { tenantId: string; endpointId: string }): Promise<boolean> {
  const rows = await getDb()
    .delete(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, endpointId), eq(webhookEndpoints.tenantId, tenantId)))
    .returning({ id: webhookEndpoints.id });
  return rows.length > 0;
}

/** Cheap pre-check on the ingest path: only a tenant with a subscribed endpoint pays for events. */
export async function tenantHasWebhooks({ tenantId, type }: { tenantId: string; type: WebhookEventType }): Promise<boolean> {
  const rows = await getDb()
    .select({ id: webhookEndpoints.id })
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.tenantId, tenantId),
        eq(webhookEndpoints.enabled, true),
        sql`${webhookEndpoints.eventTypes} ? ${type}`,
      ),
    )
    .limit(1);
  return rows.length > 0;
}

/** Of these tenants, the ones with an enabled endpoint subscribed to `type` (one query for a group). */
export async function listTenantsWithWebhooks({
  tenantIds,
  type,
}: {
  tenantIds: string[];
  type: WebhookEventType;
}): Promise<Set<string>> {
  if (tenantIds.length === 0) return new Set();
  const rows = await getDb()
    .selectDistinct({ tenantId: webhookEndpoints.tenantId })
    .from(webhookEndpoints)
    .where(
      and(
        inArray(webhookEndpoints.tenantId, tenantIds),
        eq(webhookEndpoints.enabled, true),
        sql`${webhookEndpoints.eventTypes} ? ${type}`,
      ),
    );
  return new Set(rows.map((r) => r.tenantId));
}

// ---- events (written inside the caller's transaction) ----

export type NewWebhookEvent = { messageId?: string | null; mailboxId?: string | null; data?: Record<string, unknown> };

/**
 * Writes the events and one pending delivery per subscribed, enabled endpoint, in ONE statement on
 * `tx`. Without a subscribed endpoint nothing is written. Returns the deliveries to queue.
 */
export type WebhookEventsInput = { tx: Transaction; tenantId: string; type: WebhookEventType; events: NewWebhookEvent[] };

export async function insertWebhookEvents({ tx, tenantId, type, events }: WebhookEventsInput): Promise<{ deliveryId: string }[]> {
  if (events.length === 0) return [];
  const payload = JSON.stringify(
    events.map((e) => ({ message_id: e.messageId ?? null, mailbox_id: e.mailboxId ?? null, data: e.data ?? {} })),
  );
  const result = await tx.execute<{ id: string }>(sql`
    WITH ep AS (
      SELECT id FROM webhook_endpoints
      WHERE tenant_id = ${tenantId} AND enabled AND event_types ? ${type}
    ), ev AS (
      INSERT INTO webhook_events (id, tenant_id, type, message_id, mailbox_id, data)
      SELECT 'evt_' || replace(gen_random_uuid()::text, '-', ''), ${tenantId}, ${type}, x.message_id, x.mailbox_id, x.data
      FROM jsonb_to_recordset(${payload}::jsonb) AS x(message_id uuid, mailbox_id uuid, data jsonb)
      WHERE EXISTS (SELECT 1 FROM ep)
      RETURNING id
    )
    INSERT INTO webhook_deliveries (tenant_id, event_id, endpoint_id)
    SELECT ${tenantId}, ev.id, ep.id FROM ev CROSS JOIN ep
    RETURNING id`);
  return result.rows.map((r) => ({ deliveryId: r.id }));
}

/**
 * The status last announced for each mailbox (so a reconnect's connecting -> connected is not
 * news); a mailbox never announced is absent.
 */
export async function getLastAnnouncedMailboxStatuses({ tx, mailboxIds }: { tx: Transaction; mailboxIds: string[] }): Promise<Map<string, string>> {
  if (mailboxIds.length === 0) return new Map();
  const rows = await tx
    .selectDistinctOn([webhookEvents.mailboxId], { mailboxId: webhookEvents.mailboxId, to: sql<string>`${webhookEvents.data} ->> 'status'` })
    .from(webhookEvents)
    .where(and(inArray(webhookEvents.mailboxId, mailboxIds), eq(webhookEvents.type, "mailbox.status_changed")))
    .orderBy(webhookEvents.mailboxId, desc(webhookEvents.createdAt));
  return new Map(rows.filter((r) => r.mailboxId !== null).map((r) => [r.mailboxId as string, r.to]));
}

// ---- deliveries ----

export type DeliveryWork = {
  delivery: WebhookDelivery;
  event: WebhookEvent;
  endpoint: WebhookEndpoint;
  message: Omit<IngestedMessage, "raw" | "htmlBody"> & { raw: Buffer | null } | null;
};

/** Everything one attempt needs. The raw source is read only when it may go inline. */
export async function getDeliveryWork({ deliveryId }: { deliveryId: string }): Promise<DeliveryWork | null> {
  const [row] = await getDb()
    .select({ delivery: webhookDeliveries, event: webhookEvents, endpoint: webhookEndpoints })
    .from(webhookDeliveries)
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(eq(webhookDeliveries.id, deliveryId));
  if (!row) return null;
  let message: DeliveryWork["message"] = null;
  if (row.event.messageId) {
    const inline = row.endpoint.inlineRawMaxBytes;
    const [m] = await getDb()
      .select({
        ...messageSummaryColumns,
        textBody: ingestedMessages.textBody,
        raw: sql<Buffer | null>`CASE WHEN ${ingestedMessages.size} <= ${inline} THEN ${ingestedMessages.raw} END`,
      })
      .from(ingestedMessages)
      .where(eq(ingestedMessages.id, row.event.messageId));
    message = m ?? null;
  }
  return { ...row, message };
}

/**
 * Records one attempt's outcome, only if no other run recorded attempt `attempt` first (a job that
 * expired after a crash and was retried): the compare-and-set on `attempts` makes the log exact.
 */
export async function recordDeliveryAttempt({
  tx,
  deliveryId,
  attempt,
  outcome,
}: {
  tx: Transaction;
  deliveryId: string;
  attempt: number;
  outcome: { status: "succeeded" | "failed" | "pending"; statusCode: number | null; response: string; nextAttemptAt: Date | null };
}): Promise<boolean> {
  const rows = await tx
    .update(webhookDeliveries)
    .set({
      status: outcome.status,
      attempts: attempt + 1,
      lastAttemptAt: sql`now()`,
      lastStatusCode: outcome.statusCode,
      lastResponse: outcome.response,
      nextAttemptAt: outcome.nextAttemptAt,
      ...(outcome.status === "succeeded" ? { deliveredAt: sql`now()` } : {}),
    })
    .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.attempts, attempt), eq(webhookDeliveries.status, "pending")))
    .returning({ id: webhookDeliveries.id });
  return rows.length > 0;
}

/** A replay: the delivery is pending again with a fresh retry window. Returns its attempt count. */
export async function resetDeliveryForReplay({
  tx,
  tenantId,
  deliveryId,
}: {
  tx: Transaction;
  tenantId: string;
  deliveryId: string;
}): Promise<{ attempts: number } | null> {
  const [row] = await tx
    .update(webhookDeliveries)
    .set({ status: "pending", windowStartedAt: sql`now()`, nextAttemptAt: sql`now()` })
    .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.tenantId, tenantId), sql`${webhookDeliveries.status} <> 'pending'`))
    .returning({ attempts: webhookDeliveries.attempts });
  return row ?? null;
}

export type DeliveryLogRow = Pick<
  WebhookDelivery,
  "id" | "eventId" | "endpointId" | "status" | "attempts" | "lastAttemptAt" | "nextAttemptAt" | "lastStatusCode" | "lastResponse" | "deliveredAt" | "createdAt"
> & { eventType: string };

export async function listWebhookDeliveries({
  tenantId,
  limit,
  status,
}: {
  tenantId: string;
  limit: number;
  status?: WebhookDelivery["status"];
}): Promise<DeliveryLogRow[]> {
  return getDb()
    .select({
      id: webhookDeliveries.id,
      eventId: webhookDeliveries.eventId,
      endpointId: webhookDeliveries.endpointId,
      status: webhookDeliveries.status,
      attempts: webhookDeliveries.attempts,
      lastAttemptAt: webhookDeliveries.lastAttemptAt,
      nextAttemptAt: webhookDeliveries.nextAttemptAt,
      lastStatusCode: webhookDeliveries.lastStatusCode,
      lastResponse: webhookDeliveries.lastResponse,
      deliveredAt: webhookDeliveries.deliveredAt,
      createdAt: webhookDeliveries.createdAt,
      eventType: webhookEvents.type,
    })
    .from(webhookDeliveries)
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
    .where(and(eq(webhookDeliveries.tenantId, tenantId), status ? eq(webhookDeliveries.status, status) : undefined))
    .orderBy(desc(webhookDeliveries.createdAt))
    .limit(limit);
}

/** Retention: finished deliveries (and the events no delivery refers to any more) older than `before`. */
export async function pruneWebhookDeliveries({ before }: { before: Date }): Promise<{ deliveries: number; events: number }> {
  const deliveries = await getDb()
    .delete(webhookDeliveries)
    .where(and(lt(webhookDeliveries.createdAt, before), sql`${webhookDeliveries.status} <> 'pending'`))
    .returning({ id: webhookDeliveries.id });
  const events = await getDb().execute<{ id: string }>(sql`
    DELETE FROM webhook_events e
    WHERE e.created_at < ${before}
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
    RETURNING e.id`);
  return { deliveries: deliveries.length, events: events.rows.length };
}

/** The raw source behind a signed webhook link (the token, checked by the caller, names the message). */
export async function getRawSourceById({ messageId }: { messageId: string }): Promise<{ id: string; raw: Buffer; size: number } | null> {
  const [row] = await getDb()
    .select({ id: ingestedMessages.id, raw: ingestedMessages.raw, size: ingestedMessages.size })
    .from(ingestedMessages)
    .where(eq(ingestedMessages.id, messageId));
  return row ?? null;
}
