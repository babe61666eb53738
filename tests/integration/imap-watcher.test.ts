import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { UNREADABLE_ERROR, UNREADABLE_MESSAGE } from "@/tests/fixtures/odd-mail/corpus";
import { useFreshDatabase } from "@/tests/harness/database";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";
import { type MailboxExtra, savePlainImapMailbox, waitForMailboxStatus } from "@/tests/harness/imap-mailbox";

// Fresh database before any lib/db module runs a query.
const database = await useFreshDatabase();
const { createTenant, deactivateTenant } = await import("@/lib/db/queries/tenants");
const { deleteMailbox, getMailboxById, updateMailboxAndNotify } = await import("@/lib/db/queries/mailboxes");
const { listMessages, countMailboxMessages } = await import("@/lib/db/queries/messages");
const { listRecentEvents } = await import("@/lib/db/queries/mailbox-events");
const { closeDb } = await import("@/lib/db/client");

type Purpose = "booking" | "stopsale";

let dovecot: DovecotInstance;
let watcher: WatcherProcess;
/** Log lines of watcher processes that a test replaced. */
const pastLogs: string[] = [];

async function configure(tenantId: string, purpose: Purpose, user: string, password: string, extra: MailboxExtra = {}): Promise<string> {
  return savePlainImapMailbox({ tenantId, purpose, host: dovecot.host, port: dovecot.imapPort, user, password, extra });
}

async function waitForCount(mailboxId: string, n: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => (await countMailboxMessages({ mailboxId })) >= n, { timeoutMs, what: `${n} stored messages` });
}

const users = ["res", "stop", "wrong", "mime", "live", "kill"].map((name) => ({ name, password: `${name}-secret` }));

before(async () => {
  dovecot = await startDovecot({ users });
  watcher = await startWatcherProcess({ DATABASE_URL: database.url, EMAIL_BACKOFF_MIN_SECONDS: "1", EMAIL_BACKOFF_MAX_SECONDS: "2" });
});

after(async () => {
  await watcher?.stop();
  await dovecot?.stop();
  await closeDb();
  await database.drop();
});

describe("IMAP mailbox watched by the watcher process", () => {
  it("connects a saved mailbox and ingests 20 messages exactly once, each marked \\Seen", async () => {
    const tenant = await createTenant({ name: "Hotel Ada" });
    const mailboxId = await configure(tenant.id, "booking", "res", "res-secret");
    await waitForMailboxStatus(mailboxId, "connected");
    for (let i = 0; i < 20; i++) {
      await dovecot.append("res", makeMessage({ subject: `Reservation ${i}`, body: `Guest ${i}` }));
    }
    await waitForCount(mailboxId, 20);
    await new Promise((r) => setTimeout(r, 1000)); // a duplicate would arrive within this window
    assert.equal(await countMailboxMessages({ mailboxId }), 20);
    const items = await listMessages({ tenantId: tenant.id, limit: 100 });
    assert.deepEqual(
      items.map((m) => m.subject).sort(),
      Array.from({ length: 20 }, (_, i) => `Reservation ${i}`).sort(),
    );
    assert.ok(items.every((m) => m.status === "processed" && m.purpose === "booking"));
    await waitFor(async () => (await dovecot.messages("res")).every((m) => m.seen), { timeoutMs: 5000, what: "all \\Seen" });
    assert.equal((await dovecot.messages("res")).length, 20);
  });

  it("reports a wrong password as an error with the reason, without a reconnect storm", async () => {
    const tenant = await createTenant({ name: "Hotel Wrong" });
    const mailboxId = await configure(tenant.id, "booking", "wrong", "not-the-password");
    await waitForMailboxStatus(mailboxId, "error");
    const row = await getMailboxById({ mailboxId });
    assert.equal(row?.lastError, "The server rejected the username or password.");
    assert.equal(row?.lastErrorCode, "auth", "stored with its stable code, which the UI translates");
    await new Promise((r) => setTimeout(r, 4000));
    const events = await listRecentEvents({ mailboxId, limit: 50 });
    // Backoff here is 1-2 s for network errors; auth failures wait 15 minutes, so one attempt only.
    assert.equal(events.filter((e) => e.kind === "auth_failed").length, 1);
    // Fixing the password takes effect at once.
    await configure(tenant.id, "booking", "wrong", "wrong-secret");
    await waitForMailboxStatus(mailboxId, "connected");
    assert.equal((await getMailboxById({ mailboxId }))?.lastError, null);
    assert.equal((await getMailboxById({ mailboxId }))?.lastErrorCode, null);
  });

  it("stores unreadable mail as failed with its raw source, and the next good message still arrives", async () => {
    const tenant = await createTenant({ name: "Hotel Mime" });
    const mailboxId = await configure(tenant.id, "stopsale", "mime", "mime-secret");
    await waitForMailboxStatus(mailboxId, "connected");
    const broken = UNREADABLE_MESSAGE;
    await dovecot.append("mime", broken);
    await dovecot.append("mime", makeMessage({ subject: "Stop sale 1 Dec" }));
    await waitForCount(mailboxId, 2);
    const items = await listMessages({ tenantId: tenant.id, limit: 10 });
    const failed = items.find((m) => m.status === "failed");
    const good = items.find((m) => m.status === "processed");
    assert.equal(failed?.error, UNREADABLE_ERROR);
    assert.equal(good?.subject, "Stop sale 1 Dec");
    await waitFor(async () => (await dovecot.messages("mime")).every((m) => m.seen), { timeoutMs: 5000, what: "both \\Seen" });
  });

  it("applies settings changes, disabling and deleting live", async () => {
    const tenant = await createTenant({ name: "Hotel Live" });
    const mailboxId = await configure(tenant.id, "booking", "live", "live-secret");
    await waitForMailboxStatus(mailboxId, "connected");
    // Switch to another folder: mail there is picked up, INBOX is no longer watched.
    await dovecot.createFolder("live", "Rezervasyon");
    await configure(tenant.id, "booking", "live", "live-secret", { folder: "Rezervasyon" });
    await waitForMailboxStatus(mailboxId, "connected");
    await dovecot.append("live", makeMessage({ subject: "in folder" }), { folder: "Rezervasyon" });
    await waitForCount(mailboxId, 1);
    // Disabled: nothing is fetched.
    await updateMailboxAndNotify({ mailboxId, tenantId: tenant.id, fields: { enabled: false } });
    await new Promise((r) => setTimeout(r, 800));
    await dovecot.append("live", makeMessage({ subject: "while disabled" }), { folder: "Rezervasyon" });
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(await countMailboxMessages({ mailboxId }), 1);
    // Enabled again: the waiting message arrives.
    await updateMailboxAndNotify({ mailboxId, tenantId: tenant.id, fields: { enabled: true } });
    await waitForCount(mailboxId, 2);
    // Deleted: the connection closes, mail stays unread at the server, stored mail is kept.
    assert.equal(await deleteMailbox({ tenantId: tenant.id, purpose: "booking" }), true);
    await new Promise((r) => setTimeout(r, 800));
    await dovecot.append("live", makeMessage({ subject: "after delete" }), { folder: "Rezervasyon" });
    await new Promise((r) => setTimeout(r, 2000));
    const unseen = (await dovecot.messages("live", "Rezervasyon")).filter((m) => !m.seen);
    assert.equal(unseen.length, 1);
    assert.equal((await listMessages({ tenantId: tenant.id, limit: 10 })).length, 2);
  });

  it("stops a deactivated tenant's mailboxes", async () => {
    const tenant = await createTenant({ name: "Hotel Gone" });
    const mailboxId = await configure(tenant.id, "stopsale", "stop", "stop-secret");
    await waitForMailboxStatus(mailboxId, "connected");
    await deactivateTenant({ tenantId: tenant.id });
    await new Promise((r) => setTimeout(r, 1500));
    await dovecot.append("stop", makeMessage({ subject: "after deactivation" }));
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(await countMailboxMessages({ mailboxId }), 0);
  });

  it("ends with exactly 500 rows when killed (SIGKILL) in the middle of a 500-message backlog", async () => {
    const tenant = await createTenant({ name: "Hotel Kill" });
    for (let i = 0; i < 500; i++) {
      await dovecot.append("kill", makeMessage({ subject: `Backlog ${i}`, body: "x".repeat(2000) }));
    }
    const mailboxId = await configure(tenant.id, "booking", "kill", "kill-secret");
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) >= 60, { timeoutMs: 30_000, what: "part of the backlog" });
    const code = await watcher.kill("SIGKILL");
    assert.equal(code, null);
    pastLogs.push(...watcher.logs);
    const partial = await countMailboxMessages({ mailboxId });
    assert.ok(partial < 500, `killed too late to prove anything (${partial} stored)`);
    watcher = await startWatcherProcess({ DATABASE_URL: database.url });
    await waitForCount(mailboxId, 500, 60_000);
    await waitFor(async () => (await dovecot.messages("kill")).every((m) => m.seen), { timeoutMs: 10_000, what: "all \\Seen" });
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await countMailboxMessages({ mailboxId }), 500);
    const subjects = new Set((await listMessages({ tenantId: tenant.id, limit: 1000 })).map((m) => m.subject));
    assert.equal(subjects.size, 500);
  });

  it("logs JSON lines without secrets and stops cleanly on SIGTERM", async () => {
    const lines = [...pastLogs, ...watcher.logs].filter((l) => l.startsWith("{"));
    assert.ok(lines.length > 0);
    for (const line of lines) {
      const entry = JSON.parse(line) as { level: number; service: string };
      assert.equal(entry.service, "watcher");
      for (const { password } of users) assert.ok(!line.includes(password), "a password reached the log");
      assert.ok(!line.includes("not-the-password"), "a password reached the log");
    }
    assert.ok(lines.some((l) => l.includes('"mailbox_id"')), "connection logs name their mailbox");
    const code = await watcher.kill("SIGTERM");
    assert.equal(code, 0);
  });
});
