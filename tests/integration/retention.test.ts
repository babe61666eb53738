/**
 * Issue 15 item 7: retention on a database with old rows removes exactly what the policy says
 * (raw sources of finished messages past RETENTION_RAW_DAYS, mailbox events, login attempts and
 * finished webhook deliveries past theirs) and keeps message rows, metadata, 24 h stats and the list.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { sql } from "drizzle-orm";
import pino from "pino";
import { useFreshDatabase } from "@/tests/harness/database";

const database = await useFreshDatabase();
const { getDb, closeDb } = await import("@/lib/db/client");
const { createTenant } = await import("@/lib/db/queries/tenants");
const { saveMailbox } = await import("@/lib/db/queries/mailboxes");
const { getMessageStats, listMessages, getMessage } = await import("@/lib/db/queries/messages");
const { runRetention, retentionSpec } = await import("@/lib/retention/retention");
const { startJobQueue, stopJobQueue } = await import("@/lib/jobs/job-queue");
const { getEnv } = await import("@/lib/env");

const DAY = 86_400_000;
const now = new Date();
const ago = (days: number): Date => new Date(now.getTime() - days * DAY);

after(async () => {
  await stopJobQueue();
  await closeDb();
  await database.drop();
});

describe("retention", () => {
  it("prunes exactly what the policy says", async () => {
    const tenant = await createTenant({ name: "Retention hotel" });
    const mailbox = await saveMailbox({
      tenantId: tenant.id,
      purpose: "booking",
      fields: { provider: "imap", access: "imap", host: "127.0.0.1", port: 993, username: "r", enabled: false },
    });
    const db = getDb();
    const message = async (name: string, receivedAt: Date, status: "processed" | "queued" | "failed"): Promise<string> => {
      const raw = Buffer.from(`Subject: ${name}\r\n\r\nbody ${name}\r\n`);
      const r = await db.execute<{ id: string }>(sql`
        INSERT INTO ingested_messages (tenant_id, mailbox_id, purpose, provider_message_id, subject, received_at, raw, size, status, content_hash, processed_at)
        VALUES (${tenant.id}, ${mailbox.id}, 'booking', ${name}, ${name}, ${receivedAt}, ${raw}, ${raw.length}, ${status}, ${name}, ${receivedAt})
        RETURNING id`);
      return r.rows[0]!.id;
    };
    const ids = {
      old: await message("old-processed", ago(91), "processed"),
      oldFailed: await message("old-failed", ago(200), "failed"),
      oldQueued: await message("old-queued", ago(120), "queued"), // still needs its source
      edge: await message("edge", ago(89), "processed"),
      fresh: await message("fresh", ago(0.1), "processed"),
    };
    for (const [kind, days] of [["connected", 31], ["error", 29], ["synced", 0]] as const) {
      await db.execute(sql`INSERT INTO mailbox_events (mailbox_id, kind, created_at) VALUES (${mailbox.id}, ${kind}, ${ago(days)})`);
    }
    for (const [key, days] of [["old", 8], ["new", 6]] as const) {
      await db.execute(sql`INSERT INTO login_attempts (key, attempted_at) VALUES (${key}, ${ago(days)})`);
    }
    const endpoint = await db.execute<{ id: string }>(
      sql`INSERT INTO webhook_endpoints (tenant_id, url, secret_encrypted) VALUES (${tenant.id}, 'https://hooks.example/x', 'x') RETURNING id`,
    );
    const endpointId = endpoint.rows[0]!.id;
    for (const [eventId, days, status] of [
      ["evt_old_ok", 31, "succeeded"],
      ["evt_old_failed", 40, "failed"],
      ["evt_old_pending", 35, "pending"], // still being retried or awaiting replay: kept
      ["evt_new_ok", 29, "succeeded"],
    ] as const) {
      await db.execute(sql`INSERT INTO webhook_events (id, tenant_id, type, created_at) VALUES (${eventId}, ${tenant.id}, 'mailbox.status_changed', ${ago(days)})`);
      await db.execute(
        sql`INSERT INTO webhook_deliveries (tenant_id, event_id, endpoint_id, status, created_at) VALUES (${tenant.id}, ${eventId}, ${endpointId}, ${status}, ${ago(days)})`,
      );
    }
    const statsBefore = await getMessageStats({ tenantId: tenant.id, since: ago(1) });
    const listBefore = await listMessages({ tenantId: tenant.id, limit: 50 });

    // The defaults: raw 90 days, mailbox events 30, login attempts 7, webhook deliveries 30.
    const env = getEnv();
    const policy = {
      rawDays: env.RETENTION_RAW_DAYS,
      mailboxEventDays: env.RETENTION_MAILBOX_EVENTS_DAYS,
      loginAttemptDays: env.RETENTION_LOGIN_ATTEMPTS_DAYS,
      webhookDays: env.RETENTION_WEBHOOK_DAYS,
    };
    assert.deepEqual(policy, { rawDays: 90, mailboxEventDays: 30, loginAttemptDays: 7, webhookDays: 30 });
    const report = await runRetention({ policy, now });
    assert.deepEqual(report, { rawSources: 2, mailboxEvents: 1, loginAttempts: 1, webhookDeliveries: 2, webhookEvents: 2 });

    const raws = await db.execute<{ subject: string; raw_len: number; size: number }>(
      sql`SELECT subject, octet_length(raw) AS raw_len, size FROM ingested_messages ORDER BY subject`,
    );
    assert.deepEqual(
      raws.rows.map((r) => [r.subject, Number(r.raw_len) === 0 ? "pruned" : "kept", Number(r.size) > 0]),
      [
        ["edge", "kept", true],
        ["fresh", "kept", true],
        ["old-failed", "pruned", true],
        ["old-processed", "pruned", true],
        ["old-queued", "kept", true],
      ],
    );
    // The rows and their metadata stay: the list and the 24 h stats are unchanged.
    assert.deepEqual(await getMessageStats({ tenantId: tenant.id, since: ago(1) }), statsBefore);
    assert.deepEqual(
      (await listMessages({ tenantId: tenant.id, limit: 50 })).map((m) => m.id),
      listBefore.map((m) => m.id),
    );
    assert.equal((await getMessage({ tenantId: tenant.id, messageId: ids.old }))?.subject, "old-processed");

    const kinds = await db.execute<{ kind: string }>(sql`SELECT kind::text FROM mailbox_events ORDER BY kind`);
    assert.deepEqual(kinds.rows.map((r) => r.kind), ["error", "synced"]);
    const keys = await db.execute<{ key: string }>(sql`SELECT key FROM login_attempts`);
    assert.deepEqual(keys.rows.map((r) => r.key), ["new"]);
    const deliveries = await db.execute<{ event_id: string }>(sql`SELECT event_id FROM webhook_deliveries ORDER BY event_id`);
    assert.deepEqual(deliveries.rows.map((r) => r.event_id), ["evt_new_ok", "evt_old_pending"]);
    const events = await db.execute<{ id: string }>(sql`SELECT id FROM webhook_events ORDER BY id`);
    assert.deepEqual(events.rows.map((r) => r.id), ["evt_new_ok", "evt_old_pending"]);

    // A second pass finds nothing more: it is idempotent.
    assert.deepEqual(await runRetention({ policy, now }), { rawSources: 0, mailboxEvents: 0, loginAttempts: 0, webhookDeliveries: 0, webhookEvents: 0 });
    // 0 days keeps a kind forever.
    assert.equal((await runRetention({ policy: { rawDays: 0, mailboxEventDays: 0, loginAttemptDays: 0, webhookDays: 0 }, now: new Date(now.getTime() + 1000 * DAY) })).rawSources, 0);
  });

  it("is scheduled once for all replicas through pg-boss cron", async () => {
    await startJobQueue({ specs: [retentionSpec(getEnv(), pino({ level: "silent" }))], log: pino({ level: "silent" }) });
    const schedules = await getDb().execute<{ name: string; cron: string; timezone: string }>(sql`SELECT name, cron, timezone FROM pgboss.schedule`);
    assert.deepEqual(schedules.rows, [{ name: "retention-prune", cron: "17 3 * * *", timezone: "UTC" }]);
  });
});
