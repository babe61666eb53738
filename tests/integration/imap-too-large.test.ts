/**
 * Issue 13: a message above EMAIL_MAX_MESSAGE_BYTES is never fetched whole. A fake IMAP server
 * (tests/harness/fake-imap-server.ts) announces 600 MiB and would stream that much junk if asked
 * for the body; a real Dovecot mailbox runs next to it in the same watcher process.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { useFreshDatabase } from "@/tests/harness/database";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { startFakeImapServer, type FakeImapServer } from "@/tests/harness/fake-imap-server";
import { waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";
import { savePlainImapMailbox } from "@/tests/harness/imap-mailbox";

const database = await useFreshDatabase();
const { createTenant } = await import("@/lib/db/queries/tenants");
const { getMailboxById } = await import("@/lib/db/queries/mailboxes");
const { listMessages, countMailboxMessages } = await import("@/lib/db/queries/messages");
const { closeDb } = await import("@/lib/db/client");

const MIB = 1024 * 1024;
let dovecot: DovecotInstance;
let fake: FakeImapServer;
let liar: FakeImapServer;
let watcher: WatcherProcess;
/** The Dovecot mailbox of the first test, still watched during the second. */
let calmMailboxId = "";

async function configure(tenantId: string, host: string, port: number, user: string, password: string): Promise<string> {
  return savePlainImapMailbox({ tenantId, host, port, user, password });
}

async function watcherRssBytes(): Promise<number> {
  const text = await watcher.metrics();
  const line = text.split("\n").find((l) => l.startsWith("process_resident_memory_bytes "));
  assert.ok(line, "the watcher exports its RSS");
  return Number(line.split(" ")[1]);
}

before(async () => {
  dovecot = await startDovecot({ users: [{ name: "calm", password: "calm-pw" }] });
  fake = await startFakeImapServer({ user: "big", password: "big-pw" });
  liar = await startFakeImapServer({ user: "liar", password: "liar-pw" });
  watcher = await startWatcherProcess({ DATABASE_URL: database.url, EMAIL_MAX_MESSAGE_BYTES: String(MIB), EMAIL_BACKOFF_MIN_SECONDS: "1", EMAIL_BACKOFF_MAX_SECONDS: "2" });
});

after(async () => {
  await watcher?.stop();
  await fake?.stop();
  await liar?.stop();
  await dovecot?.stop();
  await closeDb();
  await database.drop();
});

describe("a message above the size cap", () => {
  it("is stored too_large with its headers, never fetched whole; the watcher, this mailbox and others go on", async () => {
    const pid = watcher.child.pid;
    fake.addMessage(makeMessage({ subject: "before" }));
    const huge = fake.addMessage(makeMessage({ subject: "Huge attachment", from: "Big Sender <big@example.test>" }), { announcedSize: 600 * MIB });
    const t1 = await createTenant({ name: "Hotel Big" });
    const t2 = await createTenant({ name: "Hotel Calm" });
    const bigId = await configure(t1.id, fake.host, fake.port, "big", "big-pw");
    const calmId = await configure(t2.id, dovecot.host, dovecot.imapPort, "calm", "calm-pw");
    calmMailboxId = calmId;
    await waitFor(async () => (await countMailboxMessages({ mailboxId: bigId })) >= 2, { timeoutMs: 20_000, what: "2 rows from the fake server" });
    fake.addMessage(makeMessage({ subject: "after" }));
    await dovecot.append("calm", makeMessage({ subject: "calm mail" }));
    await waitFor(async () => (await countMailboxMessages({ mailboxId: bigId })) >= 3, { timeoutMs: 20_000, what: "the next normal message" });
    await waitFor(async () => (await countMailboxMessages({ mailboxId: calmId })) >= 1, { timeoutMs: 20_000, what: "the other mailbox's message" });

    const rows = await listMessages({ tenantId: t1.id, limit: 10 });
    const bySubject = new Map(rows.map((r) => [r.subject, r]));
    assert.deepEqual([...bySubject.keys()].sort(), ["Huge attachment", "after", "before"]);
    const tooLarge = bySubject.get("Huge attachment")!;
    assert.equal(tooLarge.status, "too_large");
    assert.equal(tooLarge.size, 600 * MIB);
    assert.equal(tooLarge.fromAddress, '"Big Sender" <big@example.test>');
    assert.match(tooLarge.error ?? "", /600 MB, larger than the 1 MB limit/);
    assert.equal(bySubject.get("before")?.status, "processed");
    assert.equal(bySubject.get("after")?.status, "processed");
    assert.deepEqual(fake.bodyRequests.includes(huge.uid), false, "the huge body was never requested");
    assert.equal(fake.junkBytesSent, 0);
    assert.equal(huge.seen, false, "left untouched at the provider");
    assert.ok(fake.messages.filter((m) => m.uid !== huge.uid).every((m) => m.seen), "the normal ones are marked read");

    // Honest health: connected, and the last error says what is wrong and what to do.
    const mailbox = await getMailboxById({ mailboxId: bigId });
    assert.equal(mailbox?.status, "connected");
    assert.match(mailbox?.lastError ?? "", /1 message\(s\) larger than 1 MiB were not fetched.*EMAIL_MAX_MESSAGE_BYTES/);
    assert.equal(mailbox?.lastErrorCode, "too_large_held");
    assert.equal((await getMailboxById({ mailboxId: calmId }))?.lastError, null);

    assert.equal(watcher.child.exitCode, null, "the watcher is still running");
    assert.equal(watcher.child.pid, pid);
    const rss = await watcherRssBytes();
    console.log(`watcher RSS after the too-large message: ${(rss / MIB).toFixed(1)} MiB`);
    // Generous bound: a watcher that buffered the 600 MiB message would be far above it.
    assert.ok(rss < 400 * MIB, `watcher RSS ${(rss / MIB).toFixed(1)} MiB`);
  });

  it("a server that announces 2 KB and streams a body above the cap: recorded too_large once, the cursor moves on", async () => {
    const pid = watcher.child.pid;
    liar.addMessage(makeMessage({ subject: "liar before" }));
    const lying = liar.addMessage(makeMessage({ subject: "Lying size", from: "Liar <liar@example.test>" }), {
      announcedSize: 2048,
      streamedSize: 5 * MIB,
    });
    liar.addMessage(makeMessage({ subject: "liar after" }));
    const t3 = await createTenant({ name: "Hotel Liar" });
    const liarId = await configure(t3.id, liar.host, liar.port, "liar", "liar-pw");
    await waitFor(async () => (await countMailboxMessages({ mailboxId: liarId })) >= 3, { timeoutMs: 30_000, what: "3 rows from the lying server" });
    liar.addMessage(makeMessage({ subject: "liar later" }));
    await dovecot.append("calm", makeMessage({ subject: "calm mail 2" }));
    await waitFor(async () => (await countMailboxMessages({ mailboxId: liarId })) >= 4, { timeoutMs: 30_000, what: "the next message on the lying server" });
    await waitFor(async () => (await countMailboxMessages({ mailboxId: calmMailboxId })) >= 2, { timeoutMs: 20_000, what: "the other mailbox's next message" });

    const rows = await listMessages({ tenantId: t3.id, limit: 10 });
    assert.deepEqual(rows.map((r) => r.subject).sort(), ["Lying size", "liar after", "liar before", "liar later"]);
    const recorded = rows.find((r) => r.subject === "Lying size")!;
    assert.equal(recorded.status, "too_large");
    assert.equal(recorded.size, 5 * MIB, "the observed size");
    assert.equal(recorded.fromAddress, '"Liar" <liar@example.test>', "headers through the side connection");
    assert.match(recorded.error ?? "", /announced this message as 2 KB but then sent 5 MB, larger than the 1 MB limit/);
    for (const subject of ["liar before", "liar after", "liar later"]) assert.equal(rows.find((r) => r.subject === subject)?.status, "processed", subject);
    // Refused once, at the literal marker: not retried on each reconnect, never buffered.
    assert.equal(liar.bodyRequests.filter((uid) => uid === lying.uid).length, 1, "the lying body was asked for exactly once");
    assert.equal(lying.seen, false, "left untouched at the provider");
    assert.ok(liar.messages.filter((m) => m.uid !== lying.uid).every((m) => m.seen), "the normal ones are marked read");
    assert.equal(await countMailboxMessages({ mailboxId: liarId }), 4, "each message exactly once");

    assert.equal(watcher.child.exitCode, null, "the watcher is still running");
    assert.equal(watcher.child.pid, pid);
    const rss = await watcherRssBytes();
    console.log(`watcher RSS after the lying server: ${(rss / MIB).toFixed(1)} MiB`);
    assert.ok(rss < 400 * MIB, `watcher RSS ${(rss / MIB).toFixed(1)} MiB`);
  });
});
