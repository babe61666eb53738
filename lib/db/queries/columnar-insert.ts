import { getTableColumns, sql, type SQL } from "drizzle-orm";
import { ingestedMessages, type NewIngestedMessage } from "@/lib/db/schema";

/**
 * The many-row INSERT of message rows as one array parameter per column (issue 19):
 *
 *   INSERT INTO ingested_messages (tenant_id, ...) SELECT v.tenant_id, ... FROM unnest($1::uuid[], ...) AS v(...)
 *
 * drizzle's `.values(rows)` builds one bind parameter per value (~22 per row) and checks every one
 * of them as it assembles the statement; in a profiled 2,000-message burst drizzle-orm was 13 % of
 * the watcher main thread's busy time (its `is()` check alone 6 %), more in the garbage it leaves. Here the statement has one parameter
 * per column whatever the row count, and every raw source travels in ONE binary parameter (the
 * sources end to end, each row cutting its own with substring), so no source is hex-encoded.
 *
 * The column list comes from the drizzle table, so a new column cannot be silently left out. A
 * value left undefined means the column's DEFAULT, as with drizzle: a column every row leaves
 * undefined is not listed (PostgreSQL applies the default); a nullable column without a default
 * stores null; a column with a default that some rows set and others do not cannot be said in one
 * unnest, nor can a row without a raw source (NOT NULL): for those the caller is told to use
 * drizzle's builder (null), which stores or refuses them as before.
 */
type Column = {
  key: keyof NewIngestedMessage;
  name: string;
  sqlType: string;
  hasDefault: boolean;
  kind: "bytea" | "jsonb" | "timestamp" | "plain";
};

const COLUMNS: Column[] = Object.entries(getTableColumns(ingestedMessages)).map(([key, col]) => {
  const sqlType = col.getSQLType();
  const kind = sqlType === "bytea" ? "bytea" : sqlType === "jsonb" ? "jsonb" : sqlType.startsWith("timestamp") ? "timestamp" : "plain";
  return { key: key as keyof NewIngestedMessage, name: col.name, sqlType, hasDefault: col.hasDefault, kind };
});

/** A name PostgreSQL takes as it is (every column of the table is one; this guards the raw SQL). */
function ident(name: string): SQL {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unexpected column name ${name}`);
  return sql.raw(name);
}

function arrayType(c: Column): string {
  // Dates and JSON travel as text and are cast per element: pg would otherwise format Dates in the
  // process's time zone and take a JS array (attachments) for a nested SQL array.
  return c.kind === "jsonb" || c.kind === "timestamp" ? "text[]" : `${c.sqlType}[]`;
}

function toParam(c: Column, v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (c.kind === "jsonb") return JSON.stringify(v);
  if (c.kind === "timestamp") return (v as Date).toISOString();
  return v;
}

function element(c: Column): SQL {
  const v = sql`v.${ident(c.name)}`;
  if (c.kind === "jsonb") return sql`${v}::jsonb`;
  if (c.kind === "timestamp") return sql`${v}::timestamptz`;
  return v;
}

/**
 * `INSERT ... RETURNING <returning>` for `rows`, or null when the rows cannot share one columnar
 * statement (a defaulted column set in some rows only, a row without a raw source).
 */
export function buildColumnarInsert(rows: NewIngestedMessage[], returning: SQL): SQL | null {
  if (rows.length === 0) return null;
  const listed: Column[] = [];
  for (const c of COLUMNS) {
    let defined = 0;
    for (const r of rows) if (r[c.key] !== undefined) defined += 1;
    if (c.kind === "bytea" && rows.some((r) => r[c.key] == null)) return null;
    if (defined === 0) continue;
    if (defined < rows.length && c.hasDefault) return null;
    listed.push(c);
  }
  const plain = listed.filter((c) => c.kind !== "bytea");
  const bytes = listed.filter((c) => c.kind === "bytea");
  const unnestArgs: SQL[] = plain.map((c) => sql`${sql.param(rows.map((r) => toParam(c, r[c.key])))}::${sql.raw(arrayType(c))}`);
  const aliases: SQL[] = plain.map((c) => ident(c.name));
  const selects: SQL[] = plain.map(element);
  for (const [i, c] of bytes.entries()) {
    const sources = rows.map((r) => r[c.key] as Buffer);
    const offsets: number[] = [];
    let at = 1; // substring counts from 1
    for (const b of sources) {
      offsets.push(at);
      at += b.length;
    }
    const [off, len] = [`b${i}_at`, `b${i}_len`];
    unnestArgs.push(sql`${sql.param(offsets)}::integer[]`, sql`${sql.param(sources.map((b) => b.length))}::integer[]`);
    aliases.push(sql.raw(off), sql.raw(len));
    // A Buffer parameter goes binary: the sources are not re-encoded on the way.
    selects.push(sql`substring(${sql.param(Buffer.concat(sources))}::bytea from v.${sql.raw(off)} for v.${sql.raw(len)})`);
  }
  const columns = [...plain, ...bytes].map((c) => ident(c.name));
  return sql`INSERT INTO ${ingestedMessages} (${sql.join(columns, sql`, `)})
    SELECT ${sql.join(selects, sql`, `)} FROM unnest(${sql.join(unnestArgs, sql`, `)}) AS v(${sql.join(aliases, sql`, `)})
    ON CONFLICT DO NOTHING RETURNING ${returning}`;
}
