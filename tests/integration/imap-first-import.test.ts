/**
 * Issue 13: a large first import never holds back live mail. A mailbox with 1,500 unread
 * messages is connected (start mode "unread", small batches); a message delivered while the
 * import runs is stored within seconds, before the backlog is done, because each batch takes mail
 * above the baseline's UIDNEXT first (imap-cursor-plan.ts). Real Dovecot, real PostgreSQL, the
 * watcher as its own process; the kill -9 variant ends with every message exactly once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { useFreshDatabase } from "@/tests/harness/database";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";
import { savePlainImapMailbox } from "@/tests/harness/imap-mailbox";

const database = await useFreshDatabase();
const { createTenant } = await import("@/lib/db/queries/tenants");
const { getMailboxById } = await import("@/lib/db/queries/mailboxes");
const { countMailboxMessages } = await import("@/lib/db/queries/messages");
const { getTenantMailboxHealth } = await import("@/lib/mailboxes/mailbox-health");
const { closeDb } = await import("@/lib/db/client");

const N = 1500;
/** The kill -9 variant: a smaller backlog keeps the suite within about two minutes. */
const N_KILL = 600;
/** The generous bound for live mail during an import. */
const LIVE_BOUND_MS = 15_000;

let dovecot: DovecotInstance;
let watcher: WatcherProcess;
const watcherEnv = (): Record<string, string> => ({
  DATABASE_URL: database.url,
  EMAIL_BACKOFF_MIN_SECONDS: "1",
  EMAIL_BACKOFF_MAX_SECONDS: "2",
  // Small batches: the import takes hundreds of commits, so live mail lands in the middle of it.
  EMAIL_FETCH_BATCH_SIZE: "20",
});

/** The backlog, APPENDed over a few parallel IMAP sessions (unread, as mail waiting for a first import is). */
async function appendBacklog(user: string, prefix: string, count: number): Promise<void> {
  const started = Date.now();
  const SESSIONS = 6;
  await Promise.all(
    Array.from({ length: SESSIONS }, async (_, worker) => {
      await dovecot.withImap(user, async (client) => {
        for (let i = worker; i < count; i += SESSIONS) await client.append("INBOX", makeMessage({ subject: `${prefix} ${i}`, body: "small" }));
      });
    }),
  );
  assert.equal((await dovecot.messages(user)).length, count, "the backlog is in the mailbox");
  console.log(`${count} messages APPENDed in ${Date.now() - started} ms`);
}

/** Straight from PostgreSQL (not through the project's queries): rows per subject of a mailbox. */
async function subjectCounts(mailboxId: string): Promise<Map<string, number>> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const res = await client.query<{ subject: string; n: string }>(
      "select subject, count(*) as n from ingested_messages where mailbox_id = $1 group by subject",
      [mailboxId],
    );
    return new Map(res.rows.map((r) => [r.subject, Number(r.n)]));
  } finally {
    await client.end();
  }
}

async function hasSubject(mailboxId: string, subject: string): Promise<boolean> {
  return ((await subjectCounts(mailboxId)).get(subject) ?? 0) > 0;
}

/** Delivers `subject` now and waits for its row; returns how long it took and the count then. */
async function deliverLive(user: string, mailboxId: string, subject: string): Promise<{ ms: number; storedThen: number }> {
  const started = Date.now();
  await dovecot.append(user, makeMessage({ subject }));
  await waitFor(() => hasSubject(mailboxId, subject), { timeoutMs: LIVE_BOUND_MS, intervalMs: 100, what: `live message "${subject}"` });
  const ms = Date.now() - started;
  return { ms, storedThen: await countMailboxMessages({ mailboxId }) };
}

function assertExactlyOnce(counts: Map<string, number>, expected: string[]): void {
  const twice = [...counts].filter(([, n]) => n !== 1).map(([s]) => s);
  assert.deepEqual(twice, [], "no message stored twice");
  const missing = expected.filter((s) => !counts.has(s));
  assert.deepEqual(missing, [], "no message missing");
  assert.equal(counts.size, expected.length);
}

before(async () => {
  dovecot = await startDovecot({ users: [{ name: "big", password: "big-pw" }, { name: "crash", password: "crash-pw" }] });
  watcher = await startWatcherProcess(watcherEnv());
});

after(async () => {
  await watcher?.stop();
  await dovecot?.stop();
  await closeDb();
  await database.drop();
});

describe("a large first import", () => {
  it("stores mail that arrives during a 1,500-message import within seconds, with progress shown, and every message once", async () => {
    await appendBacklog("big", "old", N);
    const tenant = await createTenant({ name: "Hotel Backlog" });
    const mailboxId = await savePlainImapMailbox({ tenantId: tenant.id, host: dovecot.host, port: dovecot.imapPort, user: "big", password: "big-pw" });
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) >= 30, { timeoutMs: 30_000, what: "the import under way" });

    // The admin sees how far the first import is.
    const health = (await getTenantMailboxHealth({ tenantId: tenant.id })).booking;
    assert.ok(health.first_import, "first-import progress is exposed while it runs");
    assert.equal(health.first_import.total, N);
    assert.ok(health.first_import.imported >= 30 && health.first_import.imported < N, `imported ${health.first_import.imported}`);

    const live = await deliverLive("big", mailboxId, "LIVE during import");
    console.log(`live message stored ${live.ms} ms after delivery, with ${live.storedThen} of ${N + 1} rows stored`);
    assert.ok(live.storedThen < N + 1, `the backlog was still incomplete (${live.storedThen} rows) when the live message was stored`);

    await waitFor(async () => (await countMailboxMessages({ mailboxId })) >= N + 1, { timeoutMs: 90_000, what: "the whole import" });
    // A moment for a duplicate to show up.
    await new Promise((r) => setTimeout(r, 1500));
    assertExactlyOnce(await subjectCounts(mailboxId), [...Array.from({ length: N }, (_, i) => `old ${i}`), "LIVE during import"]);
    const done = await getMailboxById({ mailboxId });
    assert.equal(done?.syncState.imapBaselineUids, null, "the baseline is finished");
    assert.equal((await getTenantMailboxHealth({ tenantId: tenant.id })).booking.first_import, null);
    assert.ok((await dovecot.messages("big")).every((m) => m.seen), "every message marked read after storing");
  });

  it("kill -9 in the middle of an import with live mail: resumes, live mail first again, every message exactly once", async () => {
    await appendBacklog("crash", "backlog", N_KILL);
    const tenant = await createTenant({ name: "Hotel Crash" });
    const mailboxId = await savePlainImapMailbox({ tenantId: tenant.id, host: dovecot.host, port: dovecot.imapPort, user: "crash", password: "crash-pw" });
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) >= 30, { timeoutMs: 30_000, what: "the import under way" });
    await deliverLive("crash", mailboxId, "LIVE 1");

    // Killed while the next live message is being fetched or committed (or right before).
    await dovecot.append("crash", makeMessage({ subject: "LIVE 2" }));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await watcher.kill("SIGKILL"), null);
    const partial = await countMailboxMessages({ mailboxId });
    assert.ok(partial < N_KILL, `killed too late to prove anything (${partial} stored)`);
    await dovecot.append("crash", makeMessage({ subject: "LIVE 3" }));

    watcher = await startWatcherProcess(watcherEnv());
    const restarted = Date.now();
    // The bound includes the new watcher's own start-up and reconnect (slow on a loaded machine).
    await waitFor(async () => (await hasSubject(mailboxId, "LIVE 2")) && (await hasSubject(mailboxId, "LIVE 3")), {
      timeoutMs: 2 * LIVE_BOUND_MS,
      intervalMs: 100,
      what: "the live messages after the restart",
    });
    const storedThen = await countMailboxMessages({ mailboxId });
    console.log(`after kill -9: live mail stored ${Date.now() - restarted} ms after the restart, with ${storedThen} of ${N_KILL + 3} rows stored`);
    assert.ok(storedThen < N_KILL + 3, `the backlog was still incomplete (${storedThen} rows) when the live mail was stored`);

    await waitFor(async () => (await countMailboxMessages({ mailboxId })) >= N_KILL + 3, { timeoutMs: 90_000, what: "the whole import after the restart" });
    await new Promise((r) => setTimeout(r, 1500));
    assertExactlyOnce(await subjectCounts(mailboxId), [...Array.from({ length: N_KILL }, (_, i) => `backlog ${i}`), "LIVE 1", "LIVE 2", "LIVE 3"]);
  });
});
