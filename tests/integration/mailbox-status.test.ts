/**
 * The grouped status writer (issue 19) against a real PostgreSQL: the status changes of many
 * mailboxes at one moment (a start-up, an outage) commit together with their events, alert states
 * and webhook events, exactly as one by one would; a change the database refuses costs only itself.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "drizzle-orm";
import { useFreshDatabase } from "@/tests/harness/database";
import { saveDisabledMailbox } from "@/tests/harness/imap-mailbox";

const database = await useFreshDatabase();
const { getDb, closeDb } = await import("@/lib/db/client");
const { getMailboxById } = await import("@/lib/db/queries/mailboxes");
const { setMailboxStatus, writeMailboxStatuses } = await import("@/lib/db/queries/mailbox-status");
const { listAlertNotifications } = await import("@/lib/db/queries/mailbox-alerts");

type EventRow = { mailbox_id: string; kind: string; message: string | null };

async function eventsOf(mailboxId: string): Promise<{ kind: string; message: string | null }[]> {
  const { rows } = await getDb().execute<EventRow>(
    sql`SELECT mailbox_id, kind::text AS kind, message FROM mailbox_events WHERE mailbox_id = ${mailboxId} ORDER BY created_at, id`,
  );
  return rows.map((r) => ({ kind: r.kind, message: r.message }));
}

async function alertOf(mailboxId: string): Promise<{ observed: string; observed_code: string | null; failing: boolean } | null> {
  const { rows } = await getDb().execute<{ observed: string; observed_code: string | null; failing: boolean }>(
    sql`SELECT observed, observed_code, failing_since IS NOT NULL AS failing FROM mailbox_alerts WHERE mailbox_id = ${mailboxId}`,
  );
  return rows[0] ?? null;
}

before(async () => {
  // A refusal the test can trigger for one change only.
  await getDb().execute(sql`ALTER TABLE mailboxes ADD CONSTRAINT test_status_refuse CHECK (last_error IS DISTINCT FROM 'refuse me')`);
});

after(async () => {
  await closeDb();
  await database.drop();
});

describe("grouped mailbox status writer", () => {
  it("20 mailboxes connecting at once: each is connected, with its event and a healthy alert state", async () => {
    const boxes = await Promise.all(Array.from({ length: 20 }, (_, i) => saveDisabledMailbox(`status-${i}`)));
    await Promise.all(boxes.map((b) => setMailboxStatus({ mailboxId: b.id, status: "connected", error: null, success: true, events: [{ kind: "connected" }] })));
    for (const b of boxes) {
      const row = await getMailboxById({ mailboxId: b.id });
      assert.equal(row?.status, "connected");
      assert.equal(row?.lastError, null);
      assert.notEqual(row?.lastSuccessAt, null);
      assert.deepEqual(await eventsOf(b.id), [{ kind: "connected", message: null }]);
      assert.deepEqual(await alertOf(b.id), { observed: "healthy", observed_code: null, failing: false });
    }
  });

  it("an outage: every mailbox gets its own error, code and events in order; needs_reauth alerts at once", async () => {
    const boxes = await Promise.all(Array.from({ length: 6 }, (_, i) => saveDisabledMailbox(`outage-${i}`)));
    await writeMailboxStatuses(boxes.map((b) => ({ mailboxId: b.id, status: "connected" as const, success: true })));
    await Promise.all(
      boxes.map((b, i) =>
        setMailboxStatus({
          mailboxId: b.id,
          status: i === 0 ? "needs_reauth" : "error",
          error: `down ${i}`,
          errorCode: i === 0 ? "needs_reauth" : "network",
          events: [{ kind: "disconnected" }, { kind: "error", message: `down ${i}` }],
        }),
      ),
    );
    for (const [i, b] of boxes.entries()) {
      const row = await getMailboxById({ mailboxId: b.id });
      assert.equal(row?.status, i === 0 ? "needs_reauth" : "error");
      assert.equal(row?.lastError, `down ${i}`);
      assert.equal(row?.lastErrorCode, i === 0 ? "needs_reauth" : "network");
      assert.notEqual(row?.lastErrorAt, null);
      assert.deepEqual(await eventsOf(b.id), [
        { kind: "disconnected", message: null },
        { kind: "error", message: `down ${i}` },
      ]);
      assert.deepEqual(await alertOf(b.id), { observed: "failing", observed_code: i === 0 ? "needs_reauth" : "network", failing: true });
      // needs_reauth is due at once (no grace); a network error waits out the grace.
      assert.deepEqual((await listAlertNotifications({ mailboxId: b.id })).map((n) => n.kind), i === 0 ? ["failure"] : []);
    }
    // Healthy again: the error is cleared, the failing clock stops.
    await Promise.all(boxes.map((b) => setMailboxStatus({ mailboxId: b.id, status: "connected", error: null, success: true })));
    for (const b of boxes) {
      const row = await getMailboxById({ mailboxId: b.id });
      assert.equal(row?.status, "connected");
      assert.equal(row?.lastError, null);
      assert.equal(row?.lastErrorCode, null);
      assert.equal((await alertOf(b.id))?.observed, "healthy");
    }
  });

  it("a change the database refuses fails alone: the others of the same moment are written", async () => {
    const boxes = await Promise.all(Array.from({ length: 5 }, (_, i) => saveDisabledMailbox(`refuse-${i}`)));
    const results = await Promise.allSettled(
      boxes.map((b, i) => setMailboxStatus({ mailboxId: b.id, status: "error", error: i === 2 ? "refuse me" : `fine ${i}`, events: [{ kind: "error" }] })),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"],
    );
    for (const [i, b] of boxes.entries()) {
      const row = await getMailboxById({ mailboxId: b.id });
      assert.equal(row?.lastError, i === 2 ? null : `fine ${i}`);
      assert.equal((await eventsOf(b.id)).length, i === 2 ? 0 : 1);
    }
  });

  it("a mailbox deleted meanwhile is skipped, the rest of the batch is written", async () => {
    const [gone, kept] = await Promise.all([saveDisabledMailbox("gone"), saveDisabledMailbox("kept")]);
    await getDb().execute(sql`DELETE FROM mailboxes WHERE id = ${gone.id}`);
    await writeMailboxStatuses([
      { mailboxId: gone.id, status: "connected", events: [{ kind: "connected" }] },
      { mailboxId: kept.id, status: "connected", events: [{ kind: "connected" }] },
    ]);
    assert.equal(await getMailboxById({ mailboxId: gone.id }), null);
    assert.equal((await getMailboxById({ mailboxId: kept.id }))?.status, "connected");
    assert.deepEqual(await eventsOf(kept.id), [{ kind: "connected", message: null }]);
  });
});
