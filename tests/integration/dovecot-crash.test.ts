import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { useFreshDatabase } from "@/tests/harness/database";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { savePlainImapMailbox } from "@/tests/harness/imap-mailbox";
import { killMidBacklog, waitForBacklogs, type BacklogProbe } from "@/tests/harness/kill-mid-backlog";
import { waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";

/**
 * Issue 13 acceptance against a real Dovecot: kill -9 in the middle of a first import still ends
 * with every message exactly once and the mailbox left as promised. POP3: 300 messages with
 * delete-after-ingest (the server ends empty, nothing stored twice, and mail that arrived while the
 * watcher was dead still goes before the rest of the backlog). IMAP: start mode "unread" on a
 * mailbox with read history, part of the backlog read in another client while the watcher was dead.
 */

const database = await useFreshDatabase();
const { createTenant } = await import("@/lib/db/queries/tenants");
const { countMailboxMessages, listMessages } = await import("@/lib/db/queries/messages");
const { closeDb } = await import("@/lib/db/client");

const POP3_N = 300;
const IMAP_N = 200;

let dovecot: DovecotInstance;
let watcher: WatcherProcess | undefined;

const watcherEnv = (): Record<string, string> => ({
  DATABASE_URL: database.url,
  EMAIL_BACKOFF_MIN_SECONDS: "1",
  EMAIL_BACKOFF_MAX_SECONDS: "2",
  // Small batches: many commits, so the kill lands in the middle of both backlogs.
  EMAIL_FETCH_BATCH_SIZE: "5",
  // The reconcile runs after every drain: it must not import the read history "unread" left out.
  EMAIL_RECONCILE_SECONDS: "2",
});

before(async () => {
  dovecot = await startDovecot({ users: [{ name: "popcrash", password: "popcrash-pw" }, { name: "imapcrash", password: "imapcrash-pw" }] });
});

after(async () => {
  await watcher?.stop();
  await dovecot?.stop();
  await closeDb();
  await database.drop();
});

async function storedSubjects(tenantId: string): Promise<string[]> {
  return (await listMessages({ tenantId, limit: 5000 })).map((m) => m.subject ?? "");
}

describe("kill -9 during a first import from Dovecot (POP3 with delete-after-ingest, IMAP unread)", () => {
  it("every message exactly once, the POP3 maildrop emptied, IMAP mail read elsewhere still stored and all marked read", async () => {
    const range = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);
    const popExpected = range(POP3_N, "pop3 backlog");
    await dovecot.appendMany("popcrash", popExpected.map((subject) => makeMessage({ subject, body: "x".repeat(2000) })));
    const imapHistory = range(4, "imap read history");
    await dovecot.appendMany("imapcrash", imapHistory.map((subject) => makeMessage({ subject })), { flags: ["\\Seen"] });
    const imapExpected = range(IMAP_N, "imap backlog");
    await dovecot.appendMany("imapcrash", imapExpected.map((subject) => makeMessage({ subject })));

    const popTenant = await createTenant({ name: "POP3 crash" });
    const popBox = await savePlainImapMailbox({
      tenantId: popTenant.id,
      host: dovecot.host,
      port: dovecot.pop3Port,
      user: "popcrash",
      password: "popcrash-pw",
      extra: { access: "pop3", deleteAfterIngest: true, pollIntervalSeconds: 2 },
    });
    const imapTenant = await createTenant({ name: "IMAP crash" });
    const imapBox = await savePlainImapMailbox({ tenantId: imapTenant.id, host: dovecot.host, port: dovecot.imapPort, user: "imapcrash", password: "imapcrash-pw" });

    const probes = (): BacklogProbe[] => [
      { label: "pop3", stored: () => countMailboxMessages({ mailboxId: popBox }), total: popExpected.length },
      { label: "imap", stored: () => countMailboxMessages({ mailboxId: imapBox }), total: imapExpected.length },
    ];
    watcher = await startWatcherProcess(watcherEnv());
    await killMidBacklog({ watcher, probes: probes(), atLeast: 10 });

    // While the watcher is dead: new POP3 mail; IMAP mail, one of it read at once, and the five
    // newest of the backlog not imported yet read in another client.
    await dovecot.append("popcrash", makeMessage({ subject: "pop3 while down" }));
    popExpected.push("pop3 while down");
    const unseen = (await dovecot.messages("imapcrash")).filter((m) => !m.seen).map((m) => m.uid);
    await dovecot.markSeen("imapcrash", unseen.slice(-5));
    await dovecot.append("imapcrash", makeMessage({ subject: "imap while down read" }), { flags: ["\\Seen"] });
    await dovecot.append("imapcrash", makeMessage({ subject: "imap while down unread" }));
    imapExpected.push("imap while down read", "imap while down unread");

    watcher = await startWatcherProcess(watcherEnv());
    // The POP3 backlog a crash left keeps its place: what arrived meanwhile goes first.
    await waitFor(async () => (await storedSubjects(popTenant.id)).includes("pop3 while down"), { timeoutMs: 60_000, what: "the POP3 mail from while the watcher was down" });
    const popWhenLive = await countMailboxMessages({ mailboxId: popBox });
    assert.ok(popWhenLive < popExpected.length, `the POP3 backlog was still incomplete (${popWhenLive} rows) when the new mail was stored`);

    await waitForBacklogs(probes());
    await waitFor(async () => (await dovecot.messages("popcrash")).length === 0, { timeoutMs: 30_000, what: "the POP3 maildrop emptied by delete-after-ingest" });
    await waitFor(async () => (await dovecot.messages("imapcrash")).every((m) => m.seen), { timeoutMs: 30_000, what: "every IMAP message marked read" });
    // A few more polls and reconciles: nothing may be added.
    await new Promise((r) => setTimeout(r, 6000));

    assert.deepEqual((await storedSubjects(popTenant.id)).sort(), [...popExpected].sort(), "POP3: every message exactly once");
    assert.equal((await dovecot.messages("popcrash")).length, 0, "POP3: nothing left on the server");
    assert.deepEqual((await storedSubjects(imapTenant.id)).sort(), [...imapExpected].sort(), "IMAP: every unread message exactly once, no read history");
    assert.equal((await dovecot.messages("imapcrash")).length, imapHistory.length + imapExpected.length, "IMAP: nothing moved or deleted");
  });
});
