/**
 * Parse throughput: the piscina pool (issue 13 item 5) against parsing inline on the main thread,
 * for 1,000 typical messages (a plain booking, an HTML + text alternative, a CSV attachment).
 *
 *   npx tsx bench/parse-pool.ts [--messages 1000] [--runs 5] [--threads 2]
 *
 * Prints per-run times and the medians (messages per second). The pool pays a copy of each raw
 * message into its thread and back; what it buys is that a runaway parse cannot take the watcher.
 */
import { parseArgs } from "node:util";
import { makeMessage } from "@/tests/harness/dovecot";
import { parseMessage } from "@/lib/ingest/parse-message";
import { createParsePool } from "@/lib/ingest/parse-pool";
import { median } from "./peers";

const { values } = parseArgs({
  options: { messages: { type: "string", default: "1000" }, runs: { type: "string", default: "5" }, threads: { type: "string", default: "2" } },
});
const count = Number(values.messages);
const runs = Number(values.runs);
const threads = Number(values.threads);

function alternative(i: number): string {
  const b = `alt-${i}`;
  return [
    "From: Channel Manager <noreply@channel.test>",
    "To: booking@hotel.test",
    `Subject: Reservation ${i} confirmed`,
    "Date: Tue, 24 Nov 2026 10:00:00 +0300",
    `Message-ID: <alt${i}@channel.test>`,
    "MIME-Version: 1.0",
    `Content-Type: multipart/alternative; boundary="${b}"`,
    "",
    `--${b}`,
    "Content-Type: text/plain; charset=utf-8",
    "",
    `Guest ${i}, 2 nights, room ${i % 90}, breakfast included.`,
    `--${b}`,
    "Content-Type: text/html; charset=utf-8",
    "",
    `<html><body><p>Guest <b>${i}</b>, 2 nights, room ${i % 90}.</p><table><tr><td>Breakfast</td><td>yes</td></tr></table></body></html>`,
    `--${b}--`,
    "",
  ].join("\r\n");
}

function withCsv(i: number): string {
  const b = `csv-${i}`;
  const csv = Buffer.from(Array.from({ length: 40 }, (_, r) => `hotel-${i},2026-12-${(r % 28) + 1},closed`).join("\n")).toString("base64");
  return [
    "From: Agency <stop@agency.test>",
    `Subject: Stop sale ${i}`,
    "MIME-Version: 1.0",
    `Content-Type: multipart/mixed; boundary="${b}"`,
    "",
    `--${b}`,
    "Content-Type: text/plain; charset=utf-8",
    "",
    "Stop sale list attached.",
    `--${b}`,
    'Content-Type: text/csv; name="stop.csv"',
    'Content-Disposition: attachment; filename="stop.csv"',
    "Content-Transfer-Encoding: base64",
    "",
    csv.replace(/.{76}/g, "$&\r\n"),
    `--${b}--`,
    "",
  ].join("\r\n");
}

const messages = Array.from({ length: count }, (_, i) =>
  Buffer.from(i % 3 === 0 ? makeMessage({ subject: `Booking ${i}`, body: `Dear hotel,\nplease book room ${i}.\nThanks` }) : i % 3 === 1 ? alternative(i) : withCsv(i)),
);
const bytes = messages.reduce((n, m) => n + m.length, 0);

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

const pool = createParsePool({ threads, maxHeapMb: 512, timeoutMs: 30_000, maxBodyChars: 1_000_000 });
// Warm both paths (JIT, worker start-up) before timing.
for (const m of messages.slice(0, 50)) await parseMessage(m);
await mapLimit(messages.slice(0, 50), pool.concurrency, (m) => pool.parse(m));

const inline: number[] = [];
const pooled: number[] = [];
for (let r = 0; r < runs; r++) {
  let t = performance.now();
  for (const m of messages) await parseMessage(m);
  inline.push(performance.now() - t);
  t = performance.now();
  await mapLimit(messages, pool.concurrency, (m) => pool.parse(m));
  pooled.push(performance.now() - t);
  console.log(`run ${r + 1}: inline ${Math.round(inline[r] ?? 0)} ms, pool ${Math.round(pooled[r] ?? 0)} ms`);
}
await pool.destroy();
const rate = (ms: number): number => Math.round((count / ms) * 1000);
console.log(
  JSON.stringify({
    messages: count,
    avg_bytes: Math.round(bytes / count),
    threads: pool.concurrency,
    inline_median_ms: Math.round(median(inline)),
    pool_median_ms: Math.round(median(pooled)),
    inline_msgs_per_s: rate(median(inline)),
    pool_msgs_per_s: rate(median(pooled)),
  }),
);
