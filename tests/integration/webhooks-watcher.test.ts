/**
 * Issue 15 acceptance (webhooks, items 5-6): the real watcher process ingests from the private
 * Dovecot into PostgreSQL and delivers signed message.received webhooks through pg-boss to a local
 * receiver that verifies every signature by hand (and with the package), answers 500 at first, then
 * is down for a while. Meanwhile the watcher is killed with SIGKILL mid-stream and a new one starts.
 * Afterwards every stored message was delivered, every event id received at least once and
 * processed exactly once, with one event per message.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "drizzle-orm";
import { useFreshDatabase } from "@/tests/harness/database";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { savePlainImapMailbox } from "@/tests/harness/imap-mailbox";
import { getFreePort, waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";
import { startWebhookReceiver } from "@/tests/harness/webhook-receiver";

const database = await useFreshDatabase();
const { getDb, closeDb } = await import("@/lib/db/client");
const { createTenant } = await import("@/lib/db/queries/tenants");
const { createTenantWebhook, listTenantDeliveries } = await import("@/lib/webhooks/endpoints");

// Scaled down so the suite stays near a minute: retries after ~1, 2, 3, 3... s; a killed
// watcher's in-flight jobs expire after 2 x 2 + 5 = 9 s and pg-boss's maintenance (2 s) retries them.
const watcherEnv = {
  DATABASE_URL: database.url,
  WEBHOOK_RETRY_BASE_SECONDS: "1",
  WEBHOOK_RETRY_MAX_SECONDS: "3",
  WEBHOOK_TIMEOUT_SECONDS: "2",
  JOBS_POLL_MS: "500",
  JOBS_MAINTENANCE_SECONDS: "2",
  WATCHER_RECONCILE_SECONDS: "2",
};

const USER = { name: "hooks", password: "hooks-pw" };
let dovecot: DovecotInstance;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
let secret = "";
let tenantId = "";
const watchers: WatcherProcess[] = [];

async function storedCount(): Promise<number> {
  const r = await getDb().execute<{ n: string }>(sql`SELECT count(*) AS n FROM ingested_messages WHERE tenant_id = ${tenantId}`);
  return Number(r.rows[0]!.n);
}

async function appendMessages(from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await dovecot.append(USER.name, makeMessage({ subject: `Booking ${i}`, body: `Reservation number ${i}` }));
  }
}

before(async () => {
  dovecot = await startDovecot({ users: [USER] });
  receiver = await startWebhookReceiver({ secret: () => secret, port: await getFreePort(), failFirst: 8 });
  tenantId = (await createTenant({ name: "Webhook hotel" })).id;
  const created = await createTenantWebhook({
    tenantId,
    url: receiver.url,
    eventTypes: ["message.received", "mailbox.status_changed"],
    inlineRawMaxBytes: 64 * 1024,
  });
  secret = created.secret;
  await savePlainImapMailbox({ tenantId, host: dovecot.host, port: dovecot.imapPort, user: USER.name, password: USER.password });
});

after(async () => {
  await Promise.all(watchers.map((w) => w.kill("SIGKILL")));
  await receiver?.stop();
  await dovecot?.stop();
  await closeDb();
  await database.drop();
});

describe("webhooks from the real watcher", () => {
  it("delivers every message despite 500s, a receiver outage and a SIGKILLed watcher", async () => {
    await appendMessages(0, 15);
    watchers.push(await startWatcherProcess(watcherEnv));
    // Mid-stream: the receiver has refused its first attempts and accepted some since.
    await waitFor(() => receiver.answered500 >= 8 && receiver.processed.size >= 1, { timeoutMs: 40_000, what: "the first deliveries" });
    await receiver.down();
    const downAt = Date.now();
    await appendMessages(15, 15);
    await waitFor(async () => (await storedCount()) >= 20, { timeoutMs: 30_000, what: "20 stored messages" });
    assert.equal(await watchers[0]!.kill("SIGKILL"), null); // killed by the signal, no exit code
    watchers.push(await startWatcherProcess(watcherEnv));
    await appendMessages(30, 10);
    // Down for at least 12 s in all, while retries keep failing to connect.
    await new Promise((r) => setTimeout(r, Math.max(0, 12_000 - (Date.now() - downAt))));
    await receiver.up();

    await waitFor(async () => (await storedCount()) === 40, { timeoutMs: 40_000, what: "all 40 messages stored" });
    const events = await getDb().execute<{ id: string; message_id: string }>(
      sql`SELECT id, message_id FROM webhook_events WHERE tenant_id = ${tenantId} AND type = 'message.received'`,
    );
    await waitFor(() => events.rows.every((e) => receiver.processed.has(e.id)), { timeoutMs: 60_000, what: "every event received" });

    // One event per stored message (no event lost, none made twice)...
    const messages = await getDb().execute<{ id: string; subject: string }>(sql`SELECT id, subject FROM ingested_messages WHERE tenant_id = ${tenantId}`);
    assert.equal(messages.rows.length, 40);
    assert.deepEqual(new Set(events.rows.map((e) => e.message_id)), new Set(messages.rows.map((m) => m.id)));
    assert.equal(events.rows.length, 40);
    // ...each received at least once and processed once (the receiver dedupes on webhook-id).
    const receivedMessageIds = [...receiver.processed.values()]
      .filter((h) => h.payload.type === "message.received")
      .map((h) => h.payload.data.id as string);
    assert.equal(receivedMessageIds.length, 40);
    assert.equal(new Set(receivedMessageIds).size, 40);
    for (const e of events.rows) assert.ok(receiver.requests.some((r) => r.id === e.id), `event ${e.id} was received`);
    assert.equal(receiver.badSignatures, 0);
    assert.ok(receiver.answered500 >= 8);

    // The payload carries what the issue lists: metadata, text, attachments, the raw link, raw inline.
    const sample = [...receiver.processed.values()].find((h) => h.payload.data.subject === "Booking 3");
    assert.ok(sample, "Booking 3 was delivered");
    assert.match(String(sample.payload.data.text), /Reservation number 3/);
    assert.deepEqual(sample.payload.data.attachments, []);
    assert.match(String(sample.payload.data.raw_url), /\/api\/tenant\/webhooks\/raw\/[0-9a-f-]{36}\?expires=\d+&token=/);
    assert.match(Buffer.from(String(sample.payload.data.raw_base64), "base64").toString(), /Subject: Booking 3/);

    // The delivery log: every message delivery succeeded, and the early ones record their 500s.
    const log = await listTenantDeliveries({ tenantId, limit: 500 });
    const messageLog = log.filter((d) => d.eventType === "message.received");
    assert.equal(messageLog.length, 40);
    assert.deepEqual(new Set(messageLog.map((d) => d.status)), new Set(["succeeded"]));
    assert.ok(messageLog.some((d) => d.attempts > 1));
    // The mailbox's own status was announced too (connected), signed like the rest. Its event was
    // written when the first watcher connected; its delivery retries on its own schedule (500s, the
    // outage, the killed watcher's expired job), so it may land after the last message's: wait for it.
    const statusEvents = await getDb().execute<{ id: string }>(
      sql`SELECT id FROM webhook_events WHERE tenant_id = ${tenantId} AND type = 'mailbox.status_changed' AND data->>'status' = 'connected'`,
    );
    assert.ok(statusEvents.rows.length >= 1, "a connected status event was recorded");
    await waitFor(
      () => [...receiver.processed.values()].some((h) => h.payload.type === "mailbox.status_changed" && h.payload.data.status === "connected"),
      { timeoutMs: 30_000, what: "the connected status event delivered" },
    );
  });
});
