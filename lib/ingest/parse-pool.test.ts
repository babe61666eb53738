import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createParsePool, describeParseCrash } from "./parse-pool";
import { parseMessage } from "./parse-message";

const normal = Buffer.from("From: a@agency.test\r\nSubject: Normal\r\n\r\nTwo nights.\r\n");

/** An HTML-only message: mailparser derives its text, seconds of CPU and ~50 heap MB per MB. */
function htmlMessage(mb: number): Buffer {
  const html = "<div><p>room <b>12</b> booked</p><table><tr><td>a</td><td>b</td></tr></table></div>\n".repeat(Math.round((mb * 1024 * 1024) / 80));
  return Buffer.from(`From: a@agency.test\r\nSubject: HTML\r\nContent-Type: text/html\r\n\r\n${html}`);
}

describe("parse pool", () => {
  const pools: { destroy: () => Promise<void> }[] = [];
  after(async () => {
    for (const p of pools) await p.destroy();
  });

  it("gives the same result as parsing inline", async () => {
    const pool = createParsePool({ threads: 2, maxHeapMb: 256, timeoutMs: 30_000, maxBodyChars: 1_000_000 });
    pools.push(pool);
    assert.deepEqual(await pool.parse(normal), await parseMessage(normal));
    assert.deepEqual(await pool.parseHeaders(normal), {
      messageId: null,
      fromAddress: "a@agency.test",
      subject: "Normal",
      sentAt: null,
      toAddresses: null,
      warnings: [],
    });
  });

  it("fails a parse that runs out of time, and the pool still parses the next message", async () => {
    // The first task also pays the worker's start-up, so the first normal parse warms it up.
    // 1.5 s against 8 MB of HTML-only mail (3.4 s of parsing on an idle machine here, 14 s under load).
    const pool = createParsePool({ threads: 1, maxHeapMb: 512, timeoutMs: 1_500, maxBodyChars: 100_000_000 });
    pools.push(pool);
    // The first task also pays the thread's start-up (~1 s under tsx): warm up until one passes.
    let warm = false;
    for (let i = 0; i < 5 && !warm; i++) warm = (await pool.parse(normal)).ok;
    assert.ok(warm, "the parse thread never started within its time limit");
    const slow = await pool.parse(htmlMessage(8));
    // Checked first so that a parse that did finish is reported in one line, not as 8 MB of diff.
    assert.equal(slow.ok, false, "the 8 MB HTML parse finished within 300 ms");
    assert.deepEqual(slow, {
      ok: false,
      error: "The message could not be parsed: the parser ran out of time.",
      headers: { messageId: null, fromAddress: "a@agency.test", subject: "HTML" },
      warnings: [],
    });
    // The stopped thread is replaced; under load its start-up alone can outlast 1.5 s, so the
    // replacement gets the same warm-up as the first thread.
    let next = await pool.parse(normal);
    for (let i = 0; i < 4 && !next.ok; i++) next = await pool.parse(normal);
    assert.ok(next.ok);
    assert.equal(next.fields.subject, "Normal");
  });

  it("fails a parse that runs out of memory, and the pool recovers", async () => {
    const pool = createParsePool({ threads: 1, maxHeapMb: 48, timeoutMs: 60_000, maxBodyChars: 100_000_000 });
    pools.push(pool);
    // Its HTML-to-text conversion needs ~200 MB of heap.
    const result = await pool.parse(htmlMessage(4));
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.error, "The message could not be parsed: the parser ran out of memory.");
    const next = await pool.parse(normal);
    assert.ok(next.ok);
  });

  it("words other crashes for an admin", () => {
    assert.equal(
      describeParseCrash(Object.assign(new Error("Worker terminated due to reaching memory limit: JS heap out of memory"), { code: "ERR_WORKER_OUT_OF_MEMORY" })),
      "The message could not be parsed: the parser ran out of memory.",
    );
    assert.equal(describeParseCrash(new Error("boom")), "The message could not be parsed: the parser stopped (boom).");
  });

  it("carries a burst in few thread hops, each result the same as parsing alone", async () => {
    const pool = createParsePool({ threads: 2, maxHeapMb: 256, timeoutMs: 30_000, maxBodyChars: 1_000_000 });
    pools.push(pool);
    const messages = Array.from({ length: 200 }, (_, i) => Buffer.from(`From: a${i}@agency.test\r\nSubject: Burst ${i}\r\n\r\nRoom ${i}.\r\n`));
    const results = await Promise.all(messages.map((m) => pool.parse(m)));
    assert.deepEqual(results, await Promise.all(messages.map((m) => parseMessage(m))));
    // Also through parseHeaders, mixed into the same batches.
    const headers = await Promise.all(messages.slice(0, 3).map((m) => pool.parseHeaders(m)));
    assert.deepEqual(headers.map((h) => h?.subject), ["Burst 0", "Burst 1", "Burst 2"]);
    const { hops, messages: carried } = pool.stats();
    assert.equal(carried, 203);
    // 200 messages submitted in one turn: at most 64 per hop, so at least 4 hops, far fewer than 200.
    assert.ok(hops >= 4 && hops <= 20, `hops: ${hops}`);
  });

  it("a batch with a runaway message: only that message fails, its batch-mates are parsed", async () => {
    // Out of memory (as above) rather than out of time: the batch-mates' second try must not
    // depend on how fast a replacement thread starts on a loaded machine.
    const pool = createParsePool({ threads: 1, maxHeapMb: 48, timeoutMs: 60_000, maxBodyChars: 100_000_000 });
    pools.push(pool);
    const results = await Promise.all([pool.parse(normal), pool.parse(htmlMessage(3)), pool.parse(normal)]);
    assert.deepEqual(
      results.map((r) => (r.ok ? r.fields.subject : r.error)),
      ["Normal", "The message could not be parsed: the parser ran out of memory.", "Normal"],
    );
    // One hop for the batch (3 MB: under the 4 MiB cap), then one per message when it crashed.
    assert.deepEqual(pool.stats(), { hops: 4, messages: 6 });
  });
});
