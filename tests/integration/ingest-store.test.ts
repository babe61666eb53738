/**
 * Poison-proof storing against a real PostgreSQL (issue 13 items 4, 5, 8): sanitising, the
 * row-by-row fallback, both exactly-once keys, the cursor committed with its rows, too_large rows,
 * the odd-mail corpus, and queue leases.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { sql } from "drizzle-orm";
import { useFreshDatabase } from "@/tests/harness/database";
import { loadOddMail } from "@/tests/fixtures/odd-mail/corpus";
import { saveDisabledMailbox } from "@/tests/harness/imap-mailbox";

const database = await useFreshDatabase();
const { getDb, closeDb } = await import("@/lib/db/client");
const { getMailboxById } = await import("@/lib/db/queries/mailboxes");
const { listMessages, getMessage, requeueFailedMessage, claimQueuedMessages, completeMessageProcessing } = await import(
  "@/lib/db/queries/messages"
);
const { ingestFetchedMessages, processQueuedMessages, hashContent } = await import("@/lib/ingest/ingest-messages");
const { createParsePool } = await import("@/lib/ingest/parse-pool");

const pool = createParsePool({ threads: 2, maxHeapMb: 256, timeoutMs: 30_000, maxBodyChars: 1_000_000 });

type Box = { id: string; tenantId: string; purpose: "booking" | "stopsale" };

async function newMailbox(name: string): Promise<Box> {
  return { ...(await saveDisabledMailbox(name)), purpose: "booking" };
}

const mail = (subject: string, body = `Body of ${subject}`): Buffer =>
  Buffer.from(`From: Agency <a@agency.test>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, "")}@t>\r\n\r\n${body}\r\n`);
const NUL_SUBJECT = Buffer.from("From: Hostile <x@evil.test>\r\nSubject: =?utf-8?B?AEhp?=\r\n\r\nhello\r\n");

async function rowsOf(mailboxId: string, tenantId: string): Promise<Awaited<ReturnType<typeof listMessages>>> {
  const rows = await listMessages({ tenantId, limit: 200 });
  return rows.filter((r) => r.mailboxId === mailboxId).sort((a, b) => a.providerMessageId.localeCompare(b.providerMessageId));
}

describe("ingestFetchedMessages against PostgreSQL", () => {
  before(async () => {
    // A rule only this test has: the database refuses a row whose subject is "refuse me", after
    // sanitising, as it would refuse any row for a reason nobody foresaw.
    await getDb().execute(
      sql`ALTER TABLE ingested_messages ADD CONSTRAINT test_refuse_subject CHECK (subject IS DISTINCT FROM 'refuse me')`,
    );
    await getDb().execute(sql`
      CREATE FUNCTION test_explode() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.sync_state ? 'explode' THEN RAISE EXCEPTION 'forced failure'; END IF;
        RETURN NEW;
      END $$`);
    await getDb().execute(
      sql`CREATE TRIGGER test_explode BEFORE UPDATE ON mailboxes FOR EACH ROW EXECUTE FUNCTION test_explode()`,
    );
  });

  after(async () => {
    await pool.destroy();
    await closeDb();
    await database.drop();
  });

  it("stores a NUL-header message and a normal one of the same batch, both processed", async () => {
    const box = await newMailbox("nul");
    const result = await ingestFetchedMessages({
      mailbox: box,
      messages: [
        { providerMessageId: "1:1", raw: NUL_SUBJECT },
        { providerMessageId: "1:2", raw: mail("Normal after") },
      ],
      cursor: { imapUidValidity: "1", imapLastUid: 2 } as never,
      parsePool: pool,
    });
    assert.deepEqual(result, { inserted: 2, failed: 0, tooLarge: 0, storedProviderIds: ["1:1", "1:2"], tooLargeIds: [] });
    const [hostile, normal] = await rowsOf(box.id, box.tenantId);
    assert.equal(hostile?.status, "processed");
    assert.equal(hostile?.subject, "\uFFFDHi");
    assert.deepEqual(hostile?.warnings, ["nul_character: NUL characters in subject were replaced by U+FFFD"]);
    assert.equal(normal?.status, "processed");
    assert.equal(normal?.subject, "Normal after");
    const full = await getMessage({ tenantId: box.tenantId, messageId: hostile?.id ?? "" });
    assert.ok(full?.raw.equals(NUL_SUBJECT), "raw stays byte-exact");
    assert.equal(full?.contentHash, hashContent(NUL_SUBJECT));
    const mailbox = await getMailboxById({ mailboxId: box.id });
    assert.deepEqual(mailbox?.syncState, { imapUidValidity: "1", imapLastUid: 2 });
  });

  it("stores a row the database still refuses alone as failed, with its raw source and the database's reason", async () => {
    const box = await newMailbox("refuse");
    const refused = mail("refuse me", "secret booking body");
    const result = await ingestFetchedMessages({
      mailbox: box,
      messages: [
        { providerMessageId: "a", raw: mail("first") },
        { providerMessageId: "b", raw: refused },
        { providerMessageId: "c", raw: mail("third") },
      ],
      cursor: { imapLastUid: 3 } as never,
      recordSync: { backlog: 7 },
      parsePool: pool,
    });
    assert.equal(result.inserted, 3);
    assert.equal(result.failed, 1);
    assert.deepEqual(result.storedProviderIds, ["a", "b", "c"]);
    const rows = await rowsOf(box.id, box.tenantId);
    assert.deepEqual(
      rows.map((r) => [r.providerMessageId, r.status, r.subject]),
      [
        ["a", "processed", "first"],
        ["b", "failed", null],
        ["c", "processed", "third"],
      ],
    );
    const error = rows[1]?.error ?? "";
    assert.match(error, /^The database refused this message: .*test_refuse_subject.* \(SQLSTATE 23514\)/);
    assert.ok(!error.includes("secret booking body") && !error.includes("refuse me"), "no parameters in the error");
    const stored = await getMessage({ tenantId: box.tenantId, messageId: rows[1]?.id ?? "" });
    assert.ok(stored?.raw.equals(refused));
    const mailbox = await getMailboxById({ mailboxId: box.id });
    assert.deepEqual(mailbox?.syncState, { imapLastUid: 3 });
    assert.equal(mailbox?.backlog, 7);
    assert.ok(mailbox?.lastSuccessAt);
  });

  it("stores the same content under a second provider id once, and counts both ids as stored", async () => {
    const box = await newMailbox("dup");
    const raw = mail("Same content");
    const first = await ingestFetchedMessages({ mailbox: box, messages: [{ providerMessageId: "old:7", raw }], parsePool: pool });
    assert.equal(first.inserted, 1);
    // A re-baseline (new UIDVALIDITY) sees the same message under a new id, in a batch with a new one.
    const second = await ingestFetchedMessages({
      mailbox: box,
      messages: [
        { providerMessageId: "new:1", raw },
        { providerMessageId: "new:2", raw: mail("Really new") },
      ],
      parsePool: pool,
    });
    assert.equal(second.inserted, 1);
    assert.deepEqual(second.storedProviderIds, ["new:1", "new:2"]);
    const rows = await rowsOf(box.id, box.tenantId);
    assert.deepEqual(rows.map((r) => r.providerMessageId), ["new:2", "old:7"]);
    // The same provider id again is a no-op as before.
    const third = await ingestFetchedMessages({ mailbox: box, messages: [{ providerMessageId: "new:2", raw: mail("Really new") }], parsePool: pool });
    assert.equal(third.inserted, 0);
    assert.deepEqual(third.storedProviderIds, ["new:2"]);
  });

  it("commits the cursor with its rows: a forced failure leaves neither; a success merges the cursor", async () => {
    const box = await newMailbox("atomic");
    await ingestFetchedMessages({ mailbox: box, messages: [], cursor: { imapUidValidity: "9" } as never, parsePool: pool });
    await assert.rejects(
      ingestFetchedMessages({
        mailbox: box,
        messages: [
          { providerMessageId: "9:1", raw: mail("one") },
          { providerMessageId: "9:2", raw: mail("two") },
        ],
        cursor: { explode: true } as never,
        parsePool: pool,
      }),
      /forced failure/,
    );
    assert.deepEqual(await rowsOf(box.id, box.tenantId), []);
    assert.deepEqual((await getMailboxById({ mailboxId: box.id }))?.syncState, { imapUidValidity: "9" });
    const ok = await ingestFetchedMessages({
      mailbox: box,
      messages: [{ providerMessageId: "9:1", raw: mail("one") }],
      cursor: { imapLastUid: 1 } as never,
      parsePool: pool,
    });
    assert.equal(ok.inserted, 1);
    assert.deepEqual((await getMailboxById({ mailboxId: box.id }))?.syncState, { imapUidValidity: "9", imapLastUid: 1 });
  });

  it("accepts the old call shape (recordSyncBacklog)", async () => {
    const box = await newMailbox("old-shape");
    const result = await ingestFetchedMessages({ mailbox: box, messages: [{ providerMessageId: "x", raw: mail("old") }], recordSyncBacklog: 0, parsePool: pool });
    assert.equal(result.inserted, 1);
    assert.ok((await getMailboxById({ mailboxId: box.id }))?.lastSuccessAt);
  });

  it("records a too-large message with its headers, size and what to do, apart from storedProviderIds", async () => {
    const box = await newMailbox("large");
    const headers = Buffer.from("From: Big Sender <big@agency.test>\r\nSubject: Huge scan\r\nDate: Tue, 24 Nov 2026 10:00:00 +0300\r\n\r\n");
    const size = 629_145_600;
    const result = await ingestFetchedMessages({
      mailbox: box,
      messages: [
        { providerMessageId: "big", raw: headers, size, tooLarge: true },
        { providerMessageId: "small", raw: mail("after the big one") },
      ],
      parsePool: pool,
    });
    assert.deepEqual(result, { inserted: 2, failed: 0, tooLarge: 1, storedProviderIds: ["small"], tooLargeIds: ["big"] });
    const [big] = await rowsOf(box.id, box.tenantId);
    assert.equal(big?.status, "too_large");
    assert.equal(big?.size, size);
    assert.equal(big?.subject, "Huge scan");
    assert.equal(big?.fromAddress, '"Big Sender" <big@agency.test>');
    assert.equal(big?.sentAt?.toISOString(), "2026-11-24T07:00:00.000Z");
    assert.equal(
      big?.error,
      "This message is 600 MB, larger than the 50 MB limit; it was left in the mailbox. Raise EMAIL_MAX_MESSAGE_BYTES or handle it by hand.",
    );
    assert.equal(big?.contentHash, hashContent(headers, size));

    // The limit was raised and the provider fetched it whole: the headers-only row is replaced.
    const whole = Buffer.concat([headers, Buffer.from("The whole scan, now within the limit.\r\n")]);
    const again = await ingestFetchedMessages({ mailbox: box, messages: [{ providerMessageId: "big", raw: whole }], parsePool: pool });
    assert.deepEqual(again.storedProviderIds, ["big"]);
    const [upgraded] = await rowsOf(box.id, box.tenantId);
    assert.equal(upgraded?.status, "processed");
    assert.equal(upgraded?.size, whole.length);
    assert.equal(upgraded?.error, null);
    assert.equal(upgraded?.contentHash, hashContent(whole));
    assert.ok((await getMessage({ tenantId: box.tenantId, messageId: upgraded?.id ?? "" }))?.raw.equals(whole));
  });

  it("stores every message of the odd-mail corpus in one batch; only those with no readable content fail", async () => {
    const box = await newMailbox("corpus");
    const corpus = loadOddMail();
    const result = await ingestFetchedMessages({
      mailbox: box,
      messages: corpus.map((m) => ({ providerMessageId: m.name, raw: m.raw })),
      parsePool: pool,
    });
    assert.equal(result.inserted, corpus.length);
    assert.deepEqual(result.storedProviderIds, corpus.map((m) => m.name));
    const rows = new Map((await rowsOf(box.id, box.tenantId)).map((r) => [r.providerMessageId, r]));
    for (const m of corpus) {
      const row = rows.get(m.name);
      assert.equal(row?.status, m.status, m.name);
      assert.deepEqual(row?.warnings.map((w) => w.slice(0, w.indexOf(":"))), m.warnings, m.name);
      if (m.subject !== undefined && m.status === "processed") assert.equal(row?.subject, m.subject, m.name);
    }
    assert.deepEqual(
      corpus.filter((m) => rows.get(m.name)?.status === "failed").map((m) => m.name),
      ["empty", "binary-garbage"],
    );
  });

  it("backfills content hashes of rows stored before the column existed (hand-written migration 0004)", async () => {
    const box = await newMailbox("backfill");
    const raw = mail("Stored long ago");
    await ingestFetchedMessages({
      mailbox: box,
      messages: [
        { providerMessageId: "old:1", raw },
        { providerMessageId: "old:2", raw: mail("Also old") },
      ],
      parsePool: pool,
    });
    // The second copy of the same bytes under another id can only exist from before the key.
    await getDb().execute(sql`UPDATE ingested_messages SET content_hash = NULL WHERE mailbox_id = ${box.id}`);
    await getDb().execute(
      sql`INSERT INTO ingested_messages (tenant_id, mailbox_id, purpose, provider_message_id, raw, size, status, received_at)
          VALUES (${box.tenantId}, ${box.id}, 'booking', 'old:3', ${raw}, ${raw.length}, 'processed', now() + interval '1 minute')`,
    );
    const migration = readFileSync(path.join(import.meta.dirname, "../../drizzle/0004_backfill_content_hash.sql"), "utf8");
    await getDb().execute(sql.raw(migration));
    const rows = await rowsOf(box.id, box.tenantId);
    assert.deepEqual(
      rows.map((r) => [r.providerMessageId, r.contentHash]),
      [
        ["old:1", hashContent(raw)],
        ["old:2", hashContent(mail("Also old"))],
        ["old:3", null],
      ],
    );
    // A re-baseline that sees the old message under a new id stores nothing.
    const again = await ingestFetchedMessages({ mailbox: box, messages: [{ providerMessageId: "new:1", raw }], parsePool: pool });
    assert.equal(again.inserted, 0);
  });

  it("leases queued rows: another replica cannot take a live lease, takes an expired one, and the old owner cannot finish it", async () => {
    const box = await newMailbox("lease");
    await ingestFetchedMessages({ mailbox: box, messages: [{ providerMessageId: "e", raw: Buffer.alloc(0) }], parsePool: pool });
    const [row] = await rowsOf(box.id, box.tenantId);
    assert.equal(row?.status, "failed");
    assert.equal(await requeueFailedMessage({ tenantId: box.tenantId, messageId: row?.id ?? "" }), "requeued");

    const claimedByA = await claimQueuedMessages({ owner: "replica-a", limit: 10, leaseMs: 400 });
    assert.deepEqual(claimedByA.map((r) => [r.id, r.status, r.leaseOwner]), [[row?.id, "processing", "replica-a"]]);
    assert.deepEqual(await claimQueuedMessages({ owner: "replica-b", limit: 10, leaseMs: 60_000 }), [], "a live lease is not taken");
    await new Promise((r) => setTimeout(r, 600));
    // replica-a "died" mid-parse; its lease ran out, so replica-b takes the row over.
    const handled = await processQueuedMessages({ limit: 10, owner: "replica-b", parsePool: pool });
    assert.equal(handled, 1);
    const after = await getMessage({ tenantId: box.tenantId, messageId: row?.id ?? "" });
    assert.equal(after?.status, "failed");
    assert.equal(after?.error, "The message is empty.");
    assert.equal(after?.attempts, 3);
    assert.equal(after?.leaseOwner, null);
    assert.equal(
      await completeMessageProcessing({ messageId: row?.id ?? "", owner: "replica-a", fields: { status: "processed", error: null, processingMs: 1, messageId: null, fromAddress: null, toAddresses: null, subject: "stale", sentAt: null, textBody: null, htmlBody: null, attachments: [], warnings: [] } }),
      false,
      "the replica that lost its lease cannot overwrite the result",
    );
    assert.equal((await getMessage({ tenantId: box.tenantId, messageId: row?.id ?? "" }))?.subject, null);
  });
});
