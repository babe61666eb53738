/**
 * Arrival-to-stored latency of one IMAP mailbox watched by the real watcher process, against the
 * baseline that bounds it: a bare imapflow client IDLEing on the same Dovecot, measured in the same
 * run (Dovecot 2.3 announces new mail ~500 ms after it arrives). Messages are sent one by one with
 * a pause shorter than imapflow's 15 s auto-IDLE delay, which is what a burst looks like.
 *
 *   npx tsx bench/latency.ts [--messages 30] [--gap-ms 700]
 *   npx tsx bench/latency.ts --messages 30 --gaps 0.2-20 [--seed 1]
 *
 * --gaps MIN-MAX (seconds): instead of a fixed pause, a uniform random one before each message
 * (seeded, so the floor and the watcher wait through the same gaps). Gaps past imapflow's 15 s and
 * the watcher's silence / keepalive timers are the idle case a burst does not exercise; the floor
 * then sits in IDLE through each gap, as the watcher does.
 */
import { parseArgs } from "node:util";
import { ImapFlow } from "imapflow";
import { makeMessage, startDovecot } from "@/tests/harness/dovecot";
import { startWatcherProcess } from "@/tests/harness/watcher-process";
import { loadBenchMailboxes, median, percentile, startBenchDatabase } from "./peers";
import { parseGapRange, seededGaps } from "./random-gaps";

const { values } = parseArgs({
  options: { messages: { type: "string", default: "30" }, "gap-ms": { type: "string", default: "700" }, gaps: { type: "string" }, seed: { type: "string", default: "1" } },
});
const count = Number(values.messages);
const gapMs = Number(values["gap-ms"]);
const gapRange = values.gaps ? parseGapRange(values.gaps) : undefined;
/** The pause before message i in --gaps mode (the same list for the floor and the watcher). */
const randomGaps = gapRange ? seededGaps({ ...gapRange, seed: Number(values.seed), count }) : undefined;

const db = await startBenchDatabase();
const { seedImapMailbox, waitForConnected, waitForMessages, closeDb } = await loadBenchMailboxes();

const dovecot = await startDovecot({ users: [{ name: "base", password: "pw" }, { name: "watched", password: "pw" }] });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function baseline(): Promise<number[]> {
  const client = new ImapFlow({ host: dovecot.host, port: dovecot.imapPort, secure: false, auth: { user: "base", pass: "pw" }, logger: false, disableAutoIdle: true });
  client.on("error", () => {});
  await client.connect();
  await client.mailboxOpen("INBOX");
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const seen = new Promise<void>((resolve) => client.once("exists", () => resolve()));
    void client.idle();
    await sleep(randomGaps?.[i] ?? 50);
    const t0 = performance.now();
    await dovecot.append("base", makeMessage({ subject: `b${i}` }));
    await seen;
    out.push(performance.now() - t0);
    await client.noop();
    if (!randomGaps) await sleep(gapMs);
  }
  await client.logout();
  return out;
}

async function watched(): Promise<number[]> {
  const watcher = await startWatcherProcess({ DATABASE_URL: db.url, LOG_LEVEL: "warn" });
  const row = await seedImapMailbox({ name: "w", host: dovecot.host, port: dovecot.imapPort, username: "watched", useIdle: true });
  await waitForConnected(row.id);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    if (randomGaps) await sleep(randomGaps[i]!);
    const t0 = performance.now();
    await dovecot.append("watched", makeMessage({ subject: `w${i}` }));
    await waitForMessages({ mailboxId: row.id, count: i + 1, everyMs: 5 });
    out.push(performance.now() - t0);
    if (!randomGaps) await sleep(gapMs);
  }
  await watcher.stop();
  return out;
}

try {
  const base = await baseline();
  const mine = await watched();
  const result = {
    messages: count,
    ...(gapRange ? { gaps_s: values.gaps, seed: Number(values.seed) } : { gap_ms: gapMs }),
    baseline_idle_exists_ms: { median: Math.round(median(base)), p95: Math.round(percentile(base, 95)), p99: Math.round(percentile(base, 99)) },
    watcher_append_to_stored_ms: {
      median: Math.round(median(mine)),
      p95: Math.round(percentile(mine, 95)),
      p99: Math.round(percentile(mine, 99)),
      max: Math.round(Math.max(...mine)),
    },
    ratio_median: Math.round((median(mine) / median(base)) * 100) / 100,
    p99_minus_baseline_p99_ms: Math.round(percentile(mine, 99) - percentile(base, 99)),
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await dovecot.stop();
  await closeDb();
  await db.stop();
}
