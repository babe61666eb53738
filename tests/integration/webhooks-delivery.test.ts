/**
 * Webhook delivery details against a real PostgreSQL and a local receiver (issue 15 items 5-6):
 * the URL host check at save and at delivery, a delivery that fails for its whole retry window
 * ends `failed` with its last response logged, a replay (after a secret rotation) delivers the
 * same event id signed with the new secret, and events written in a rolled-back transaction
 * leave neither an event nor a job.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "drizzle-orm";
import pino from "pino";
import { useFreshDatabase } from "@/tests/harness/database";
import { getFreePort, waitFor } from "@/tests/harness/ports";
import { startWebhookReceiver } from "@/tests/harness/webhook-receiver";

Object.assign(process.env, {
  WEBHOOK_RETRY_BASE_SECONDS: "1",
  WEBHOOK_RETRY_MAX_SECONDS: "1",
  WEBHOOK_RETRY_WINDOW_SECONDS: "4",
  WEBHOOK_TIMEOUT_SECONDS: "2",
  JOBS_POLL_MS: "500",
  JOBS_MAINTENANCE_SECONDS: "2",
});
const database = await useFreshDatabase();
const { getDb, closeDb } = await import("@/lib/db/client");
const { createTenant } = await import("@/lib/db/queries/tenants");
const { saveMailbox } = await import("@/lib/db/queries/mailboxes");
const { runInTransaction } = await import("@/lib/db/queries/job-queue");
const { startJobQueue, stopJobQueue } = await import("@/lib/jobs/job-queue");
const { createTenantWebhook, listTenantDeliveries, replayTenantDelivery, rotateTenantWebhookSecret } = await import("@/lib/webhooks/endpoints");
const { deliveryHandler } = await import("@/lib/webhooks/deliver");
const { webhookDeliverySpec } = await import("@/lib/webhooks/webhook-queue");
const { recordWebhookEvents } = await import("@/lib/webhooks/record-events");
const { checkWebhookUrl, postWebhook, WebhookUrlError } = await import("@/lib/webhooks/post-webhook");
const { AppError } = await import("@/lib/errors");

let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
let secret = "";
let tenantId = "";
let mailboxId = "";
let endpointId = "";
const log = pino({ level: "silent" });

before(async () => {
  // Fails everything at first: 10,000 answers of 500.
  receiver = await startWebhookReceiver({ secret: () => secret, port: await getFreePort(), failFirst: 10_000 });
  tenantId = (await createTenant({ name: "Delivery hotel" })).id;
  mailboxId = (
    await saveMailbox({ tenantId, purpose: "booking", fields: { provider: "imap", access: "imap", host: "127.0.0.1", port: 993, username: "d", enabled: false } })
  ).id;
  const created = await createTenantWebhook({ tenantId, url: receiver.url, eventTypes: ["mailbox.status_changed"], inlineRawMaxBytes: 0 });
  secret = created.secret;
  endpointId = created.endpoint.id;
  await startJobQueue({ specs: [webhookDeliverySpec(deliveryHandler(log)) as never], log });
});

after(async () => {
  await stopJobQueue();
  await receiver?.stop();
  await closeDb();
  await database.drop();
});

describe("webhook delivery", () => {
  it("checks the URL's host like a mail host, at save and at delivery", async () => {
    await assert.rejects(checkWebhookUrl("http://127.0.0.1:9/x", { allowPrivate: false }), WebhookUrlError);
    await assert.rejects(checkWebhookUrl("http://[::ffff:10.0.0.1]/x", { allowPrivate: false }), WebhookUrlError);
    await assert.rejects(checkWebhookUrl("http://localhost/x", { allowPrivate: false }), WebhookUrlError);
    await assert.rejects(checkWebhookUrl("ftp://hooks.example/x", { allowPrivate: true }), /must start with https/);
    await assert.rejects(checkWebhookUrl("https://u:p@hooks.example/x", { allowPrivate: true }), /user name or password/);
    assert.equal((await checkWebhookUrl("https://8.8.8.8/x", { allowPrivate: false })).host, "8.8.8.8");
    const before = receiver.requests.length;
    const refused = await postWebhook({ url: receiver.url, body: "{}", headers: {}, timeoutMs: 2000, allowPrivate: false });
    assert.equal(refused.statusCode, null);
    assert.match(refused.response, /^Not delivered: .*not allowed/);
    assert.equal(receiver.requests.length, before, "nothing reached the private address");
  });

  it("marks a delivery failed after its retry window, logs the last answer, and replays it", async () => {
    await runInTransaction((tx) =>
      recordWebhookEvents({ tx, tenantId, type: "mailbox.status_changed", events: [{ mailboxId, data: { status: "error", previous_status: "connected" } }] }),
    );
    const failed = await waitFor(
      async () => (await listTenantDeliveries({ tenantId })).find((d) => d.status === "failed"),
      { timeoutMs: 20_000, what: "the delivery to fail for good" },
    );
    assert.ok(failed.attempts >= 3, `attempts: ${failed.attempts}`);
    assert.equal(failed.lastStatusCode, 500);
    assert.equal(failed.lastResponse, "receiver is failing on purpose");
    assert.equal(failed.nextAttemptAt, null);
    const attemptsSoFar = receiver.requests.filter((r) => r.id === failed.eventId).length;
    assert.equal(attemptsSoFar, failed.attempts);

    // A pending delivery cannot be replayed; a finished one can, with the secret rotated meanwhile.
    const { secret: rotated } = await rotateTenantWebhookSecret({ tenantId, endpointId });
    assert.notEqual(rotated, secret);
    secret = rotated;
    const okReceiver = await startWebhookReceiver({ secret: () => secret, port: await getFreePort() });
    await getDb().execute(sql`UPDATE webhook_endpoints SET url = ${okReceiver.url} WHERE id = ${endpointId}`);
    await replayTenantDelivery({ tenantId, deliveryId: failed.id });
    await assert.rejects(replayTenantDelivery({ tenantId, deliveryId: failed.id }), (err: unknown) => err instanceof AppError && err.status === 409);
    await waitFor(() => okReceiver.processed.has(failed.eventId), { timeoutMs: 15_000, what: "the replayed delivery" });
    assert.equal(okReceiver.badSignatures, 0);
    // The receiver answered before the outcome was committed: wait for the log to say so.
    const done = await waitFor(
      async () => (await listTenantDeliveries({ tenantId })).find((d) => d.id === failed.id && d.status !== "pending"),
      { timeoutMs: 10_000, what: "the replay's outcome" },
    );
    assert.equal(done?.status, "succeeded");
    assert.equal(done?.attempts, failed.attempts + 1);
    assert.equal(done?.lastStatusCode, 200);
    await okReceiver.stop();
  });

  it("writes no event and no job when the transaction rolls back", async () => {
    const count = async (): Promise<[number, number]> => {
      const e = await getDb().execute<{ n: string }>(sql`SELECT count(*) AS n FROM webhook_events`);
      const j = await getDb().execute<{ n: string }>(sql`SELECT count(*) AS n FROM pgboss.job WHERE name = 'webhook-delivery'`);
      return [Number(e.rows[0]!.n), Number(j.rows[0]!.n)];
    };
    const [events, jobs] = await count();
    await assert.rejects(
      runInTransaction(async (tx) => {
        const n = await recordWebhookEvents({ tx, tenantId, type: "mailbox.status_changed", events: [{ mailboxId, data: { status: "connected" } }] });
        assert.equal(n, 1);
        throw new Error("abort");
      }),
      /abort/,
    );
    assert.deepEqual(await count(), [events, jobs]);
  });
});
