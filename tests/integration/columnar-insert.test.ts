/**
 * The columnar message INSERT (issue 19, lib/db/queries/columnar-insert.ts) against a real
 * PostgreSQL: the same rows stored through it and through drizzle's per-value builder read back
 * identical in every column, awkward values included (quotes, backslashes, braces, commas, empty
 * strings, non-Latin text, nulls, nested JSON, binary sources with every byte value, Dates), and
 * rows it cannot say in one statement are handed back (null) instead of stored wrongly.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { sql } from "drizzle-orm";
import { useFreshDatabase } from "@/tests/harness/database";
import { saveDisabledMailbox } from "@/tests/harness/imap-mailbox";

const database = await useFreshDatabase();
const { getDb, closeDb } = await import("@/lib/db/client");
const { ingestedMessages } = await import("@/lib/db/schema");
const { buildColumnarInsert } = await import("@/lib/db/queries/columnar-insert");
type NewRow = typeof ingestedMessages.$inferInsert;

after(async () => {
  await closeDb();
  await database.drop();
});

const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

function awkwardRows(box: { id: string; tenantId: string }): NewRow[] {
  const base = { tenantId: box.tenantId, mailboxId: box.id, purpose: "booking" as const, attempts: 1 };
  return [
    {
      ...base,
      providerMessageId: "7:1",
      raw: Buffer.concat([Buffer.from("Subject: a\r\n\r\n"), everyByte]),
      size: 270,
      contentHash: "h1",
      status: "processed",
      subject: `quote " backslash \\ braces {a,b} comma, NULL "NULL" ''`,
      fromAddress: "Ayşe Yılmaz <ayse@otel.example>",
      toAddresses: "",
      messageId: null,
      textBody: "line 1\nline 2\ttab\r\n\\N",
      htmlBody: "<p>İstanbul — 東京 — 🏨</p>",
      sentAt: new Date("2026-12-03T10:11:12.345Z"),
      processedAt: new Date("2026-12-03T10:11:13.000Z"),
      processingMs: 7,
      attachments: [{ filename: 'voucher "1".pdf', content_type: "application/pdf", size: 1234 }],
      warnings: ['bad_date: "x" is not a date', "nested [1,{2}]"],
      error: null,
    },
    {
      ...base,
      providerMessageId: "7:2",
      raw: Buffer.alloc(0),
      size: 0,
      contentHash: "h2",
      status: "failed",
      subject: null,
      fromAddress: null,
      toAddresses: null,
      messageId: "<m2@x>",
      textBody: null,
      htmlBody: null,
      sentAt: null,
      processedAt: new Date("2026-12-03T10:11:14.000Z"),
      processingMs: 0,
      attachments: [],
      warnings: [],
      error: "The message could not be parsed: x",
    },
    {
      ...base,
      providerMessageId: "7:3",
      raw: Buffer.from("Subject: third\r\n\r\nbody\r\n"),
      size: 25,
      contentHash: "h3",
      status: "processed",
      subject: "third",
      fromAddress: null,
      toAddresses: null,
      messageId: null,
      textBody: "body",
      htmlBody: null,
      sentAt: null,
      processedAt: new Date("2026-12-03T10:11:15.000Z"),
      processingMs: 3,
      attachments: [],
      warnings: [],
      error: null,
      authResults: { spf: { result: "pass", domain: "otel.example" } } as unknown as NewRow["authResults"],
    },
  ];
}

/** Every column but the generated ones, as PostgreSQL returns them (raw as hex), by provider id. */
async function readBack(mailboxId: string): Promise<Record<string, unknown>[]> {
  const r = await getDb().execute<Record<string, unknown>>(
    sql`SELECT tenant_id, purpose, provider_message_id, message_id, from_address, to_addresses, subject, sent_at, encode(raw, 'hex') AS raw,
        size, text_body, html_body, attachments, status, attempts, error, processing_ms, processed_at, content_hash, warnings, auth_results,
        lease_owner, lease_expires_at, received_at IS NOT NULL AS has_received_at
        FROM ingested_messages WHERE mailbox_id = ${mailboxId} ORDER BY provider_message_id`,
  );
  return r.rows;
}

describe("columnar message insert", () => {
  it("stores exactly what drizzle's builder stores, value for value", async () => {
    const viaDrizzle = await saveDisabledMailbox("columnar-drizzle");
    const viaColumns = await saveDisabledMailbox("columnar-unnest");
    await getDb().insert(ingestedMessages).values(awkwardRows(viaDrizzle));
    const statement = buildColumnarInsert(awkwardRows(viaColumns), sql`provider_message_id`);
    assert.ok(statement, "these rows share one columnar statement");
    const returned = await getDb().execute<{ provider_message_id: string }>(statement);
    assert.deepEqual(returned.rows.map((r) => r.provider_message_id).sort(), ["7:1", "7:2", "7:3"]);

    const a = await readBack(viaDrizzle.id);
    const b = await readBack(viaColumns.id);
    assert.equal(a.length, 3);
    // tenant ids differ (one tenant per mailbox): compare the rest.
    const strip = (rows: Record<string, unknown>[]) => rows.map(({ tenant_id: _t, ...rest }) => rest);
    assert.deepEqual(strip(b), strip(a));
    assert.equal(b[0]!.raw, Buffer.concat([Buffer.from("Subject: a\r\n\r\n"), everyByte]).toString("hex"));
    assert.equal(b[1]!.raw, "");
    assert.equal(b[0]!.subject, `quote " backslash \\ braces {a,b} comma, NULL "NULL" ''`);
    assert.deepEqual(b[2]!.auth_results, { spf: { result: "pass", domain: "otel.example" } });
    assert.equal(b[0]!.auth_results, null);
  });

  it("a repeat conflicts and stores nothing; RETURNING names only the new rows", async () => {
    const box = await saveDisabledMailbox("columnar-repeat");
    const rows = awkwardRows(box);
    await getDb().execute(buildColumnarInsert(rows.slice(0, 2), sql`provider_message_id`)!);
    const again = await getDb().execute<{ provider_message_id: string }>(buildColumnarInsert(rows, sql`provider_message_id`)!);
    assert.deepEqual(again.rows.map((r) => r.provider_message_id), ["7:3"]);
    assert.equal((await readBack(box.id)).length, 3);
  });

  it("hands back rows it cannot say in one unnest: a defaulted column set in some rows only", async () => {
    const box = await saveDisabledMailbox("columnar-mixed");
    const rows = awkwardRows(box);
    rows[0]!.receivedAt = new Date("2026-12-01T00:00:00.000Z");
    assert.equal(buildColumnarInsert(rows, sql`id`), null);
    // Set in every row: listed, and stored as given.
    for (const r of rows) r.receivedAt = new Date("2026-12-01T00:00:00.000Z");
    await getDb().execute(buildColumnarInsert(rows, sql`id`)!);
    const r = await getDb().execute<{ n: string }>(
      sql`SELECT count(*) AS n FROM ingested_messages WHERE mailbox_id = ${box.id} AND received_at = '2026-12-01T00:00:00Z'`,
    );
    assert.equal(Number(r.rows[0]!.n), 3);
    assert.equal(buildColumnarInsert([], sql`id`), null);
  });
});
