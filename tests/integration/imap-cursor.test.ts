/**
 * Issue 13: IMAP discovery by a durable cursor, never by \Seen. Real Dovecot, real PostgreSQL,
 * the watcher as its own process; "another client" is a second IMAP session (imapflow).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ImapFlow } from "imapflow";
import pg from "pg";
import { useFreshDatabase } from "@/tests/harness/database";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";
import { savePlainImapMailbox, type MailboxExtra } from "@/tests/harness/imap-mailbox";

const database = await useFreshDatabase();
const { createTenant } = await import("@/lib/db/queries/tenants");
const { getMailboxById } = await import("@/lib/db/queries/mailboxes");
const { listMessages, countMailboxMessages } = await import("@/lib/db/queries/messages");
const { closeDb } = await import("@/lib/db/client");

type Extra = MailboxExtra;

const users = ["seen", "unread", "since", "newonly", "markread", "none", "move", "kmark", "knone", "kmove", "uidv", "gap", "poison"].map((name) => ({
  name,
  password: `${name}-pw`,
}));

let dovecot: DovecotInstance;
let watcher: WatcherProcess;
const watcherEnv = (): Record<string, string> => ({
  DATABASE_URL: database.url,
  EMAIL_BACKOFF_MIN_SECONDS: "1",
  EMAIL_BACKOFF_MAX_SECONDS: "2",
  // Small batches: many commits, so a kill lands in the middle of a backlog.
  EMAIL_FETCH_BATCH_SIZE: "10",
  // Reconcile (and its UIDVALIDITY check) every 4 s instead of 5 minutes.
  EMAIL_RECONCILE_SECONDS: "4",
});

/** A second IMAP client, as a receptionist's mail program would be. */
const withImap = <T>(user: string, fn: (client: ImapFlow) => Promise<T>): Promise<T> => dovecot.withImap(user, fn);

async function appendAt(user: string, subject: string, opts: { seen?: boolean; date?: Date; folder?: string; raw?: string } = {}): Promise<string> {
  const raw = opts.raw ?? makeMessage({ subject, ...(opts.date ? { date: opts.date } : {}) });
  await withImap(user, async (client) => {
    const folder = opts.folder ?? "INBOX";
    if (folder !== "INBOX") await client.mailboxCreate(folder).catch(() => undefined);
    const ok = await client.append(folder, raw, opts.seen ? ["\\Seen"] : [], opts.date);
    assert.ok(ok, "APPEND failed");
  });
  return raw;
}

async function configure(tenantId: string, user: string, extra: Extra = {}): Promise<string> {
  return savePlainImapMailbox({ tenantId, host: dovecot.host, port: dovecot.imapPort, user, password: `${user}-pw`, extra });
}

/** Fault injection straight into PostgreSQL (not through the project's queries). */
async function sqlExec(text: string, values: unknown[] = []): Promise<void> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    await client.query(text, values);
  } finally {
    await client.end();
  }
}

async function metric(name: string): Promise<number> {
  const text = await watcher.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

async function storedSubjects(tenantId: string): Promise<string[]> {
  return (await listMessages({ tenantId, limit: 2000 })).map((m) => m.subject ?? "").sort();
}

async function waitForCount(mailboxId: string, n: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => (await countMailboxMessages({ mailboxId })) >= n, { timeoutMs, what: `${n} stored messages` });
}

async function waitConnected(mailboxId: string): Promise<void> {
  await waitFor(async () => (await getMailboxById({ mailboxId }))?.status === "connected", { timeoutMs: 15_000, what: "connected" });
}

/** TEST_GREP=words runs only the cases whose name contains them (a debugging aid). */
const grep = process.env.TEST_GREP;
const test = (name: string, fn: () => Promise<void>): void => {
  it(name, grep && !name.includes(grep) ? { skip: `TEST_GREP=${grep}` } : {}, fn);
};

/** Time for a duplicate or an unwanted import to show up, after the wanted ones arrived. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 1500));

before(async () => {
  dovecot = await startDovecot({ users });
  watcher = await startWatcherProcess(watcherEnv());
});

after(async () => {
  await watcher?.stop();
  await dovecot?.stop();
  await closeDb();
  await database.drop();
});

describe("IMAP discovery by cursor", () => {
  test("stores all 6 messages delivered while the watcher was stopped, although 3 were read elsewhere", async () => {
    const tenant = await createTenant({ name: "Hotel Seen" });
    const mailboxId = await configure(tenant.id, "seen");
    await waitConnected(mailboxId);
    await watcher.stop();
    for (let i = 0; i < 6; i++) await appendAt("seen", `Booking ${i}`);
    // The receptionist reads 3 of them in Outlook before the watcher is back.
    await withImap("seen", async (client) => {
      await client.mailboxOpen("INBOX");
      assert.ok(await client.messageFlagsAdd("1:3", ["\\Seen"]));
    });
    watcher = await startWatcherProcess(watcherEnv());
    await waitForCount(mailboxId, 6);
    await settle();
    assert.deepEqual(await storedSubjects(tenant.id), ["Booking 0", "Booking 1", "Booking 2", "Booking 3", "Booking 4", "Booking 5"]);
    assert.ok((await dovecot.messages("seen")).every((m) => m.seen), "mark_read marks all of them");
  });

  test("start mode unread imports exactly the unread history, then every new message read or not", async () => {
    const tenant = await createTenant({ name: "Hotel Unread" });
    await appendAt("unread", "old read 1", { seen: true });
    await appendAt("unread", "old unread 1");
    await appendAt("unread", "old read 2", { seen: true });
    await appendAt("unread", "old unread 2");
    const mailboxId = await configure(tenant.id, "unread", { startMode: "unread", afterIngest: "none" });
    await waitForCount(mailboxId, 2);
    await appendAt("unread", "new read", { seen: true });
    await appendAt("unread", "new unread");
    await waitForCount(mailboxId, 4);
    await settle();
    assert.deepEqual(await storedSubjects(tenant.id), ["new read", "new unread", "old unread 1", "old unread 2"]);
  });

  test("start mode since imports exactly what was received on or after the date", async () => {
    const tenant = await createTenant({ name: "Hotel Since" });
    await appendAt("since", "October", { date: new Date("2026-10-01T10:00:00Z") });
    await appendAt("since", "November read", { seen: true, date: new Date("2026-11-25T10:00:00Z") });
    await appendAt("since", "November unread", { date: new Date("2026-11-26T10:00:00Z") });
    const mailboxId = await configure(tenant.id, "since", { startMode: "since", startSince: new Date("2026-11-20T00:00:00Z") });
    await waitForCount(mailboxId, 2);
    await settle();
    assert.deepEqual(await storedSubjects(tenant.id), ["November read", "November unread"]);
  });

  test("start mode new_only imports nothing that was there, then every new message", async () => {
    const tenant = await createTenant({ name: "Hotel New" });
    await appendAt("newonly", "history unread");
    await appendAt("newonly", "history read", { seen: true });
    const mailboxId = await configure(tenant.id, "newonly", { startMode: "new_only" });
    await waitConnected(mailboxId);
    await settle();
    assert.equal(await countMailboxMessages({ mailboxId }), 0);
    await appendAt("newonly", "arrived", { seen: true });
    await waitForCount(mailboxId, 1);
    await settle();
    assert.deepEqual(await storedSubjects(tenant.id), ["arrived"]);
    const onServer = await dovecot.messages("newonly");
    assert.deepEqual(onServer.map((m) => m.seen), [false, true, true], "history left as it was; the new one marked read");
  });

  test("after-ingest mark_read / none / move leave the mailbox as promised", async () => {
    const t1 = await createTenant({ name: "Hotel Mark" });
    const t2 = await createTenant({ name: "Hotel None" });
    const t3 = await createTenant({ name: "Hotel Move" });
    const m1 = await configure(t1.id, "markread", { afterIngest: "mark_read" });
    const m2 = await configure(t2.id, "none", { afterIngest: "none" });
    const m3 = await configure(t3.id, "move", { afterIngest: "move", moveToFolder: "Processed" });
    await dovecot.createFolder("move", "Processed");
    for (const id of [m1, m2, m3]) await waitConnected(id);
    for (let i = 0; i < 3; i++) {
      for (const user of ["markread", "none", "move"]) await appendAt(user, `${user} ${i}`);
    }
    for (const id of [m1, m2, m3]) await waitForCount(id, 3);
    await waitFor(async () => (await dovecot.messages("markread")).every((m) => m.seen), { timeoutMs: 5000, what: "marked read" });
    await waitFor(async () => (await dovecot.messages("move")).length === 0, { timeoutMs: 5000, what: "moved out of INBOX" });
    await settle();
    assert.equal((await dovecot.messages("markread")).length, 3);
    const untouched = await dovecot.messages("none");
    assert.equal(untouched.length, 3);
    assert.ok(untouched.every((m) => !m.seen), "none leaves them unread");
    assert.equal((await dovecot.messages("move", "Processed")).length, 3);
    for (const id of [m1, m2, m3]) assert.equal(await countMailboxMessages({ mailboxId: id }), 3);
  });

  test("kill -9 in the middle of a 300-message backlog under each after-ingest action: every message exactly once", async () => {
    const cases = [
      { user: "kmark", afterIngest: "mark_read" },
      { user: "knone", afterIngest: "none" },
      { user: "kmove", afterIngest: "move", moveToFolder: "Done" },
    ] as const;
    const N = 300;
    const mailboxes: { id: string; tenantId: string; user: string; afterIngest: string }[] = [];
    await watcher.stop();
    for (const c of cases) {
      const tenant = await createTenant({ name: `Hotel ${c.user}` });
      await withImap(c.user, async (client) => {
        if (c.afterIngest === "move") await client.mailboxCreate("Done");
        for (let i = 0; i < N; i++) await client.append("INBOX", makeMessage({ subject: `${c.user} ${i}`, body: "x".repeat(3000) }));
      });
      const id = await configure(tenant.id, c.user, { afterIngest: c.afterIngest, ...("moveToFolder" in c ? { moveToFolder: c.moveToFolder } : {}) });
      mailboxes.push({ id, tenantId: tenant.id, user: c.user, afterIngest: c.afterIngest });
    }
    watcher = await startWatcherProcess(watcherEnv());
    await waitFor(
      async () => {
        for (const m of mailboxes) if ((await countMailboxMessages({ mailboxId: m.id })) < 20) return false;
        return true;
      },
      { timeoutMs: 60_000, what: "part of every backlog" },
    );
    assert.equal(await watcher.kill("SIGKILL"), null);
    for (const m of mailboxes) {
      const partial = await countMailboxMessages({ mailboxId: m.id });
      assert.ok(partial < N, `${m.user}: killed too late to prove anything (${partial} stored)`);
    }
    watcher = await startWatcherProcess(watcherEnv());
    for (const m of mailboxes) await waitForCount(m.id, N, 90_000);
    await waitFor(
      async () => {
        const mark = await dovecot.messages("kmark");
        const moved = await dovecot.messages("kmove");
        return mark.every((x) => x.seen) && moved.length === 0;
      },
      { timeoutMs: 20_000, what: "after-ingest actions applied to the whole backlog" },
    );
    await settle();
    for (const m of mailboxes) {
      assert.equal(await countMailboxMessages({ mailboxId: m.id }), N, `${m.user}: exactly ${N} rows`);
      const subjects = new Set((await listMessages({ tenantId: m.tenantId, limit: 2000 })).map((x) => x.subject));
      assert.equal(subjects.size, N, `${m.user}: every message once`);
    }
    assert.ok((await dovecot.messages("knone")).every((x) => !x.seen), "none: all still unread");
    assert.equal((await dovecot.messages("kmove", "Done")).length, N, "move: all in Done");
  });

  test("a UIDVALIDITY change (folder deleted and recreated with the same mail) stores nothing twice", async () => {
    const tenant = await createTenant({ name: "Hotel Uidv" });
    const date = (d: number): Date => new Date(Date.now() - d * 3600_000);
    const raws: { raw: string; date: Date }[] = [];
    for (let i = 0; i < 3; i++) {
      const d = date(5 - i);
      raws.push({ raw: makeMessage({ subject: `kept ${i}`, date: d }), date: d });
    }
    await dovecot.createFolder("uidv", "Rez");
    const mailboxId = await configure(tenant.id, "uidv", { folder: "Rez", startMode: "new_only" });
    await waitConnected(mailboxId);
    for (const r of raws) await appendAt("uidv", "", { raw: r.raw, date: r.date, folder: "Rez" });
    await waitForCount(mailboxId, 3);
    const before = (await getMailboxById({ mailboxId }))?.syncState.imapUidValidity;
    assert.ok(before);
    // The folder is deleted and recreated (a migration, a restore): same mail, new UIDVALIDITY.
    await withImap("uidv", async (client) => {
      await client.mailboxDelete("Rez");
      await client.mailboxCreate("Rez");
      for (const r of raws) await client.append("Rez", r.raw, [], r.date);
      await client.append("Rez", makeMessage({ subject: "after recreate" }));
    });
    await waitForCount(mailboxId, 4, 30_000).catch((err: unknown) => {
      console.error(watcher.logs.slice(-30).join("\n"));
      throw err;
    });
    await settle();
    const after = (await getMailboxById({ mailboxId }))?.syncState.imapUidValidity;
    assert.ok(after && after !== before, "the cursor moved to the new UIDVALIDITY");
    assert.equal(await countMailboxMessages({ mailboxId }), 4);
    assert.deepEqual(await storedSubjects(tenant.id), ["after recreate", "kept 0", "kept 1", "kept 2"]);
  });

  test("the reconcile finds a message the cursor passed but the database lacks, stores it and reports reconcile_gap", async () => {
    const tenant = await createTenant({ name: "Hotel Gap" });
    const mailboxId = await configure(tenant.id, "gap");
    await waitConnected(mailboxId);
    for (let i = 0; i < 3; i++) await appendAt("gap", `gap ${i}`);
    await waitForCount(mailboxId, 3);
    const gapsBefore = await metric("reconcile_gaps_total");
    // A lost row is what a cursor bug would leave behind.
    await sqlExec("DELETE FROM ingested_messages WHERE mailbox_id = $1 AND subject = 'gap 1'", [mailboxId]);
    assert.equal(await countMailboxMessages({ mailboxId }), 2);
    await waitForCount(mailboxId, 3, 20_000);
    assert.deepEqual(await storedSubjects(tenant.id), ["gap 0", "gap 1", "gap 2"]);
    assert.equal((await metric("reconcile_gaps_total")) - gapsBefore, 1);
    assert.ok(watcher.logs.some((l) => l.includes('"event":"reconcile_gap"') && l.includes(mailboxId)), "reconcile_gap is logged");
  });

  test("a batch the database keeps refusing shows as an error that says what to do, and heals once storing works", async () => {
    const tenant = await createTenant({ name: "Hotel Poison" });
    const mailboxId = await configure(tenant.id, "poison");
    await waitConnected(mailboxId);
    await sqlExec(`CREATE FUNCTION refuse_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.mailbox_id = '${mailboxId}' THEN RAISE EXCEPTION 'disk full (test)'; END IF; RETURN NEW; END $$`);
    await sqlExec("CREATE TRIGGER refuse_insert BEFORE INSERT ON ingested_messages FOR EACH ROW EXECUTE FUNCTION refuse_insert()");
    try {
      await appendAt("poison", "blocked for now");
      await waitFor(async () => (await getMailboxById({ mailboxId }))?.status === "error", { timeoutMs: 15_000, what: "status error" });
      const row = await getMailboxById({ mailboxId });
      assert.match(row?.lastError ?? "", /^Storing 1 new message\(s\) failed in the database, so none of them was stored; the watcher keeps retrying\./);
      assert.ok(!(row?.lastError ?? "").includes("disk full"), "the database's own words stay in the logs");
      assert.equal(row?.lastErrorCode, "storage");
      assert.ok((await metric("ingest_store_failures_total")) >= 1);
    } finally {
      await sqlExec("DROP TRIGGER refuse_insert ON ingested_messages");
      await sqlExec("DROP FUNCTION refuse_insert()");
    }
    await waitForCount(mailboxId, 1, 20_000);
    await waitConnected(mailboxId);
    assert.equal((await getMailboxById({ mailboxId }))?.lastError, null);
    assert.deepEqual(await storedSubjects(tenant.id), ["blocked for now"]);
  });

  test("no reconcile_gap is logged for mailboxes nobody tampered with", async () => {
    const gapLines = watcher.logs.filter((l) => l.includes('"event":"reconcile_gap"'));
    assert.ok(gapLines.every((l) => l.includes('"count":1')), gapLines.join("\n"));
    assert.ok(gapLines.length <= 1, gapLines.join("\n"));
  });
});
