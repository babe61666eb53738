/**
 * Issue 13 acceptance, storing side, end to end: the real watcher process, a private Dovecot and
 * PostgreSQL. A hostile message (NUL in a decoded header) and a normal one after it are both
 * stored within seconds, and another mailbox keeps receiving meanwhile.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { useFreshDatabase } from "@/tests/harness/database";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";
import { savePlainImapMailbox } from "@/tests/harness/imap-mailbox";

const database = await useFreshDatabase();
const { createTenant } = await import("@/lib/db/queries/tenants");
const { getMailboxById } = await import("@/lib/db/queries/mailboxes");
const { listMessages, countMailboxMessages } = await import("@/lib/db/queries/messages");
const { closeDb } = await import("@/lib/db/client");

const NUL_SUBJECT = readFileSync(path.join(import.meta.dirname, "../fixtures/odd-mail/nul-subject.eml"), "latin1");

let dovecot: DovecotInstance;
let watcher: WatcherProcess;

async function configure(tenantId: string, user: string): Promise<string> {
  return savePlainImapMailbox({ tenantId, host: dovecot.host, port: dovecot.imapPort, user, password: `${user}-secret` });
}

before(async () => {
  dovecot = await startDovecot({ users: ["hostile", "other"].map((name) => ({ name, password: `${name}-secret` })) });
  watcher = await startWatcherProcess({ DATABASE_URL: database.url, EMAIL_BACKOFF_MIN_SECONDS: "1", EMAIL_BACKOFF_MAX_SECONDS: "2" });
});

after(async () => {
  await watcher?.stop();
  await dovecot?.stop();
  await closeDb();
  await database.drop();
});

describe("a hostile message at the watcher", () => {
  it("stores the NUL-subject message and the normal one after it within seconds; another mailbox is unaffected", async () => {
    const a = await createTenant({ name: "Hotel Hostile" });
    const b = await createTenant({ name: "Hotel Other" });
    const hostileId = await configure(a.id, "hostile");
    const otherId = await configure(b.id, "other");
    for (const id of [hostileId, otherId]) {
      await waitFor(async () => (await getMailboxById({ mailboxId: id }))?.status === "connected", { timeoutMs: 15_000, what: "connected" });
    }
    await dovecot.append("hostile", NUL_SUBJECT);
    await dovecot.append("hostile", makeMessage({ subject: "Normal after hostile" }));
    await dovecot.append("other", makeMessage({ subject: "Other mailbox" }));
    // "within seconds": a generous bound for a shared, slow machine.
    await waitFor(async () => (await countMailboxMessages({ mailboxId: hostileId })) >= 2, { timeoutMs: 15_000, what: "both messages" });
    await waitFor(async () => (await countMailboxMessages({ mailboxId: otherId })) >= 1, { timeoutMs: 15_000, what: "the other mailbox" });

    const rows = (await listMessages({ tenantId: a.id, limit: 10 })).sort((x, y) => x.providerMessageId.localeCompare(y.providerMessageId));
    assert.deepEqual(
      rows.map((r) => [r.status, r.subject, r.warnings]),
      [
        ["processed", "\uFFFDHi", ["nul_character: NUL characters in subject were replaced by U+FFFD"]],
        ["processed", "Normal after hostile", []],
      ],
    );
    assert.deepEqual((await listMessages({ tenantId: b.id, limit: 10 })).map((r) => r.subject), ["Other mailbox"]);
    // Committed, so marked read at the provider; the hostile mailbox reports no error.
    await waitFor(async () => (await dovecot.messages("hostile")).every((m) => m.seen), { timeoutMs: 5000, what: "both \\Seen" });
    const mailbox = await getMailboxById({ mailboxId: hostileId });
    assert.equal(mailbox?.status, "connected");
    assert.equal(mailbox?.lastError, null);
    assert.equal(watcher.child.exitCode, null, "the watcher is still running");
  });
});
