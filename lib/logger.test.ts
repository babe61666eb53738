import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { DrizzleQueryError } from "drizzle-orm/errors";
import pino from "pino";
import { maskEmail, scrubLogValue, serializeError } from "./logger";

const MARKER = "BODY-MARKER-7f3a";

/** A pino logger configured like getLogger(), writing into an array. */
function capture(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const log = pino(
    {
      serializers: { err: (err: unknown) => (err instanceof Error ? serializeError(err) : scrubLogValue(err)) },
      formatters: { log: (object) => scrubLogValue(object) as Record<string, unknown> },
    },
    out,
  );
  return { log, lines };
}

describe("log scrubbing", () => {
  it("a Drizzle query error keeps its SQL but none of its parameters, in message, stack or fields", () => {
    const cause = Object.assign(new Error(`duplicate key value violates unique constraint "m_uq"`), {
      code: "23505",
      constraint: "m_uq",
      detail: `Key (raw)=(${MARKER}) already exists.`,
    });
    const err = new DrizzleQueryError("insert into messages (raw) values ($1)", [Buffer.from(MARKER), MARKER], cause);
    const { log, lines } = capture();
    log.error({ err }, "insert failed");
    log.warn({ error: err, nested: { params: [MARKER], raw: Buffer.from(MARKER), ok: 1 } }, "again");
    const text = lines.join("\n");
    assert.ok(!text.includes(MARKER), text);
    const first = JSON.parse(lines[0]!) as { err: { message: string; query: string; cause: { code: string; constraint: string } } };
    assert.match(first.err.message, /^Failed query: insert into messages \(raw\) values \(\$1\)\nparams: \[redacted\]$/);
    assert.equal(first.err.query, "insert into messages (raw) values ($1)");
    assert.equal(first.err.cause.code, "23505");
    assert.equal(first.err.cause.constraint, "m_uq");
    const second = JSON.parse(lines[1]!) as { nested: { params: string; raw: string; ok: number } };
    assert.deepEqual(second.nested, { params: "[redacted]", raw: "[redacted]", ok: 1 });
  });

  it("buffers anywhere become their size", () => {
    assert.deepEqual(scrubLogValue({ a: [Buffer.alloc(3)], b: new Uint8Array(5) }), { a: ["[3 bytes]"], b: "[5 bytes]" });
  });

  it("maskEmail hides the address but stays stable per account", () => {
    const masked = maskEmail(" Admin@Hotel.Test ");
    assert.equal(masked, maskEmail("admin@hotel.test"));
    assert.match(masked, /^[0-9a-f]{12}@h\*\*\*\.test$/);
    assert.ok(!masked.includes("admin"));
  });
});
