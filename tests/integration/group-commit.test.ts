/**
 * Group commit across mailboxes (issue 19) against a real PostgreSQL: many mailboxes' commits of
 * the same moment go as one statement, each mailbox's rows and cursor still land together, and a
 * row the database refuses costs only its own mailbox a fallback.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "drizzle-orm";
import { useFreshDatabase } from "@/tests/harness/database";
import { saveDisabledMailbox } from "@/tests/harness/imap-mailbox";

const database = await useFreshDatabase();
const { getDb, closeDb } = await import("@/lib/db/client");
const { getMailboxById } = await import("@/lib/db/queries/mailboxes");
const { listMessages } = await import("@/lib/db/queries/messages");
const { createGroupCommitter } = await import("@/lib/db/queries/message-group-commit");
const { hashContent } = await import("@/lib/ingest/ingest-messages");

type Box = { id: string; tenantId: string };

const newMailbox = (name: string): Promise<Box> => saveDisabledMailbox(name);

function row(box: Box, uid: number, subject = `m${uid}`) {
  const raw = Buffer.from(`From: a@agency.test\r\nSubject: ${subject}\r\n\r\nbody ${box.id} ${uid}\r\n`);
  return {
    tenantId: box.tenantId,
    mailboxId: box.id,
    purpose: "booking" as const,
    providerMessageId: `7:${uid}`,
    raw,
    size: raw.length,
    contentHash: hashContent(raw),
    status: "processed" as const,
    subject,
    attempts: 1,
    processedAt: new Date(),
  };
}

before(async () => {
  await getDb().execute(sql`ALTER TABLE ingested_messages ADD CONSTRAINT test_group_refuse CHECK (subject IS DISTINCT FROM 'refuse me')`);
});

after(async () => {
  await closeDb();
  await database.drop();
});

describe("group commit across mailboxes", () => {
  it("30 mailboxes committing at once: few statements, every row and cursor stored, a repeat stores nothing twice", async () => {
    const boxes = await Promise.all(Array.from({ length: 30 }, (_, i) => newMailbox(`group-${i}`)));
    const committer = createGroupCommitter({ maxInFlight: 1 });
    const commit = (box: Box, uid: number) =>
      committer.insert({ rows: [row(box, uid)], mailboxId: box.id, cursor: { imapUidValidity: "7", imapLastUid: uid }, recordSync: { backlog: uid } });
    const first = await Promise.all(boxes.map((b, i) => commit(b, i + 1)));
    assert.deepEqual(first, boxes.map(() => ({ inserted: 1, refusedProviderIds: [] })));
    const stats = committer.stats();
    assert.equal(stats.commits, 30);
    assert.equal(stats.fallbacks, 0);
    // One lone commit goes at once, the other 29 wait for it and go together.
    assert.ok(stats.statements <= 3, `statements: ${stats.statements}`);
    for (const [i, b] of boxes.entries()) {
      const mb = await getMailboxById({ mailboxId: b.id });
      assert.equal(mb?.syncState.imapLastUid, i + 1);
      assert.equal(mb?.syncState.imapUidValidity, "7");
      assert.equal(mb?.backlog, i + 1);
      assert.ok(mb?.lastSuccessAt instanceof Date);
      const rows = (await listMessages({ tenantId: b.tenantId, limit: 10 })).map((r) => r.providerMessageId);
      assert.deepEqual(rows, [`7:${i + 1}`]);
    }
    // The same commits again (a re-fetch after a crash): nothing new, cursors unchanged.
    const again = await Promise.all(boxes.map((b, i) => commit(b, i + 1)));
    assert.deepEqual(again, boxes.map(() => ({ inserted: 0, refusedProviderIds: [] })));
  });

  it("a row the database refuses: its mailbox stores it as failed on its own, the others as they are", async () => {
    const boxes = await Promise.all(Array.from({ length: 5 }, (_, i) => newMailbox(`refuse-${i}`)));
    const committer = createGroupCommitter({ maxInFlight: 1 });
    // A first commit in flight, so the five below queue up and go as one statement.
    const warm = await newMailbox("refuse-warm");
    const pending = [committer.insert({ rows: [row(warm, 1)], mailboxId: warm.id, cursor: { imapLastUid: 1 } })];
    for (const [i, b] of boxes.entries()) {
      pending.push(committer.insert({ rows: [row(b, 1, i === 2 ? "refuse me" : "fine"), row(b, 2)], mailboxId: b.id, cursor: { imapLastUid: 2 } }));
    }
    const outcomes = await Promise.all(pending);
    assert.equal(committer.stats().fallbacks, 1);
    assert.deepEqual(outcomes[3], { inserted: 2, refusedProviderIds: ["7:1"] });
    for (const [i, b] of boxes.entries()) {
      if (i !== 2) assert.deepEqual(outcomes[i + 1], { inserted: 2, refusedProviderIds: [] });
      const rows = await listMessages({ tenantId: b.tenantId, limit: 10 });
      assert.deepEqual(rows.map((r) => `${r.providerMessageId}:${r.status}`).sort(), i === 2 ? ["7:1:failed", "7:2:processed"] : ["7:1:processed", "7:2:processed"]);
      assert.equal((await getMailboxById({ mailboxId: b.id }))?.syncState.imapLastUid, 2);
    }
  });
});
