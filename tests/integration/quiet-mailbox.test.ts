/**
 * Issue 15 (quiet mailbox): the history SQL (listQuietHistories) and the scan behind it, against
 * real rows in PostgreSQL. One mailbox normally receives mail every hour and has been silent for
 * ten hours; another received mail ten minutes ago. Exactly the silent one is warned, once, and the
 * warning clears when mail arrives again. Timings come in through the scan's parameters.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "drizzle-orm";
import { useFreshDatabase } from "@/tests/harness/database";
import { savePlainImapMailbox } from "@/tests/harness/imap-mailbox";

const database = await useFreshDatabase();
const { getDb, closeDb } = await import("@/lib/db/client");
const { createTenant } = await import("@/lib/db/queries/tenants");
const { listAlertNotifications, listQuietHistories } = await import("@/lib/db/queries/mailbox-alerts");
const { scanQuietMailboxes } = await import("@/watcher/alert-scanner");

const HOUR = 3_600_000;
const now = new Date("2026-06-01T12:00:00.000Z");
const policy = { minSamples: 10, factor: 3, minQuietMs: HOUR };
const logged: unknown[] = [];
const log = { info: (obj: unknown): void => void logged.push(obj) };

let tenantId: string;
let quietId: string;
let busyId: string;
let optedOutId: string;

async function insertMessages(mailboxId: string, purpose: string, times: Date[]): Promise<void> {
  for (const [i, at] of times.entries()) {
    await getDb().execute(sql`
      INSERT INTO ingested_messages (tenant_id, mailbox_id, purpose, provider_message_id, raw, size, status, received_at)
      VALUES (${tenantId}, ${mailboxId}, ${purpose}, ${`${mailboxId}-${at.getTime()}-${i}`}, ${Buffer.from("x")}, 1, 'processed', ${at.toISOString()}::timestamptz)`);
  }
}
/** `count` hourly messages, the newest `lastAgoMs` before now. */
const hourly = (count: number, lastAgoMs: number): Date[] =>
  Array.from({ length: count }, (_, i) => new Date(now.getTime() - lastAgoMs - (count - 1 - i) * HOUR));

before(async () => {
  tenantId = (await createTenant({ name: "Quiet hotel" })).id;
  const save = (purpose: "booking" | "stopsale", user: string): Promise<string> =>
    savePlainImapMailbox({ tenantId, purpose, host: "127.0.0.1", port: 1, user, password: "x" });
  quietId = await save("booking", "quiet");
  busyId = await save("stopsale", "busy");
  await getDb().execute(sql`UPDATE mailboxes SET status = 'connected', quiet_alert = true WHERE id IN (${quietId}, ${busyId})`);
  await insertMessages(quietId, "booking", hourly(20, 10 * HOUR));
  await insertMessages(busyId, "stopsale", hourly(20, 10 * 60_000));
  // A second tenant's silent mailbox without the opt-in: never warned.
  const other = (await createTenant({ name: "Opted out hotel" })).id;
  optedOutId = await savePlainImapMailbox({ tenantId: other, host: "127.0.0.1", port: 1, user: "off", password: "x" });
  await getDb().execute(sql`UPDATE mailboxes SET status = 'connected' WHERE id = ${optedOutId}`);
  const saved = tenantId;
  tenantId = other;
  await insertMessages(optedOutId, "booking", hourly(20, 10 * HOUR));
  tenantId = saved;
});

after(async () => {
  await closeDb();
  await database.drop();
});

describe("quiet mailbox scan", () => {
  it("measures each opted-in mailbox's history in one query", async () => {
    const histories = await listQuietHistories({ since: new Date(now.getTime() - 7 * 86_400_000) });
    const byId = new Map(histories.map((h) => [h.mailboxId, h]));
    assert.deepEqual([...byId.keys()].sort(), [quietId, busyId].sort(), "only opted-in, connected mailboxes");
    assert.equal(byId.get(quietId)!.samples, 20);
    assert.equal(byId.get(quietId)!.p95GapMs, HOUR);
    assert.equal(byId.get(quietId)!.lastReceivedAt?.toISOString(), new Date(now.getTime() - 10 * HOUR).toISOString());
    assert.equal(byId.get(busyId)!.lastReceivedAt?.toISOString(), new Date(now.getTime() - 10 * 60_000).toISOString());
    assert.equal(byId.get(quietId)!.quietWarnedAt, null);
  });

  it("warns exactly the quiet mailbox, once, and clears the warning when mail comes again", async () => {
    const first = await scanQuietMailboxes({ now, historyDays: 7, policy, log });
    assert.deepEqual(first, { warned: [quietId], recovered: [] });
    const second = await scanQuietMailboxes({ now: new Date(now.getTime() + HOUR), historyDays: 7, policy, log });
    assert.deepEqual(second, { warned: [], recovered: [] }, "a second pass does not warn again");
    const alerts = await listAlertNotifications({ mailboxId: quietId });
    assert.deepEqual(alerts.map((a) => a.kind), ["quiet"]);
    assert.deepEqual(await listAlertNotifications({ mailboxId: busyId }), []);
    assert.deepEqual(await listAlertNotifications({ mailboxId: optedOutId }), []);

    await insertMessages(quietId, "booking", [new Date(now.getTime() + 2 * HOUR)]);
    const third = await scanQuietMailboxes({ now: new Date(now.getTime() + 2 * HOUR + 60_000), historyDays: 7, policy, log });
    assert.deepEqual(third, { warned: [], recovered: [quietId] });
    const [h] = (await listQuietHistories({ since: new Date(now.getTime() - 7 * 86_400_000) })).filter((x) => x.mailboxId === quietId);
    assert.equal(h?.quietWarnedAt, null);
  });

  it("a history too short or too old to judge warns nobody", async () => {
    // Only messages older than the window: nothing to compare the silence with.
    const later = new Date(now.getTime() + 30 * 86_400_000);
    assert.deepEqual(await scanQuietMailboxes({ now: later, historyDays: 7, policy, log }), { warned: [], recovered: [] });
  });
});
