/**
 * Issue 19: the watcher's reconcile tick reads the full mailbox list only when the watchable set's
 * fingerprint changed. Every change here is written with raw SQL and no NOTIFY (as if it arrived
 * while LISTEN was reconnecting), so only the fingerprint can make the watcher notice it: enabling
 * (added to the set), a settings change (same count, new config_version), disabling, deleting.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { useFreshDatabase } from "@/tests/harness/database";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { savePlainImapMailbox } from "@/tests/harness/imap-mailbox";
import { waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";

const database = await useFreshDatabase();
const { createTenant } = await import("@/lib/db/queries/tenants");
const { countMailboxMessages } = await import("@/lib/db/queries/messages");
const { closeDb } = await import("@/lib/db/client");

let dovecot: DovecotInstance;
let watcher: WatcherProcess;
let sql: pg.Client;
let mailboxId: string;

function stoppedLines(): number {
  return watcher.logs.filter((l) => l.includes('"msg":"mailbox stopped"') && l.includes(mailboxId) && l.includes('"reason":"removed"')).length;
}

async function waitForCount(n: number): Promise<void> {
  await waitFor(async () => (await countMailboxMessages({ mailboxId })) === n, { timeoutMs: 20_000, what: `${n} stored messages` });
}

before(async () => {
  dovecot = await startDovecot({ users: [{ name: "fp", password: "fp-secret" }] });
  sql = new pg.Client({ connectionString: database.url });
  await sql.connect();
  watcher = await startWatcherProcess({ DATABASE_URL: database.url, WATCHER_RECONCILE_SECONDS: "1" });
});

after(async () => {
  await watcher?.stop();
  await sql?.end();
  await dovecot?.stop();
  await closeDb();
  await database.drop();
});

describe("reconcile by fingerprint, with every change's NOTIFY missed", () => {
  it("claims a mailbox enabled without a NOTIFY", async () => {
    const tenant = await createTenant({ name: "Hotel Fingerprint" });
    mailboxId = await savePlainImapMailbox({
      tenantId: tenant.id,
      host: dovecot.host,
      port: dovecot.imapPort,
      user: "fp",
      password: "fp-secret",
      extra: { enabled: false },
    });
    await sql.query("UPDATE mailboxes SET enabled = true WHERE id = $1", [mailboxId]);
    await dovecot.append("fp", makeMessage({ subject: "after enable" }));
    await waitForCount(1);
  });

  it("reconnects with settings changed without a NOTIFY (same count, new config_version)", async () => {
    await dovecot.createFolder("fp", "Other");
    await sql.query("UPDATE mailboxes SET folder = 'Other', config_version = config_version + 1 WHERE id = $1", [mailboxId]);
    await dovecot.append("fp", makeMessage({ subject: "in the new folder" }), { folder: "Other" });
    await waitForCount(2);
  });

  it("stops a mailbox disabled without a NOTIFY", async () => {
    await sql.query("UPDATE mailboxes SET enabled = false WHERE id = $1", [mailboxId]);
    await waitFor(async () => stoppedLines() === 1, { timeoutMs: 20_000, what: "the disabled mailbox to stop" });
    await dovecot.append("fp", makeMessage({ subject: "while disabled" }), { folder: "Other" });
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await countMailboxMessages({ mailboxId }), 2);
  });

  it("stops a mailbox deleted without a NOTIFY", async () => {
    await sql.query("UPDATE mailboxes SET enabled = true WHERE id = $1", [mailboxId]);
    // Watched again: the message that waited while it was disabled arrives.
    await waitForCount(3);
    await sql.query("DELETE FROM mailboxes WHERE id = $1", [mailboxId]);
    await waitFor(async () => stoppedLines() === 2, { timeoutMs: 20_000, what: "the deleted mailbox to stop" });
  });
});
