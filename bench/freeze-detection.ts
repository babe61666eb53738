/**
 * Freeze detection: how long from a network path going silent (no FIN/RST, tests/harness/tcp-relay.ts
 * freeze()) to the next message being stored, for IDLE and for polling mailboxes, watched by the
 * real watcher process. Each mailbox gets its own relay; the freeze comes 1 s after the server's
 * last byte (the worst case for silence detection), and a message is APPENDed straight to Dovecot
 * right after it.
 *
 *   npx tsx bench/freeze-detection.ts [--mailboxes 3] [--silence 60] [--command 30] [--keepalive 130]
 *
 * --silence / --command / --keepalive set EMAIL_IDLE_SILENCE_SECONDS / EMAIL_COMMAND_TIMEOUT_SECONDS /
 * EMAIL_IDLE_KEEPALIVE_SECONDS for the watcher (left out: the defaults, 60, 30 and 130). The probe
 * timeout and jitter (EMAIL_PROBE_TIMEOUT_SECONDS, EMAIL_IDLE_SILENCE_JITTER_SECONDS) pass through
 * from this process's environment, like every other watcher setting.
 */
import { parseArgs } from "node:util";
import { makeMessage, startDovecot } from "@/tests/harness/dovecot";
import { startTcpRelay, type TcpRelay } from "@/tests/harness/tcp-relay";
import { startWatcherProcess } from "@/tests/harness/watcher-process";
import { loadBenchMailboxes, median, startBenchDatabase } from "./peers";

const { values } = parseArgs({
  options: { mailboxes: { type: "string", default: "3" }, silence: { type: "string" }, command: { type: "string" }, keepalive: { type: "string" } },
});
const perMode = Number(values.mailboxes);

const db = await startBenchDatabase();
const { seedImapMailbox, waitForConnected, waitForMessages, closeDb } = await loadBenchMailboxes();

const modes = ["idle", "poll"] as const;
const names = modes.flatMap((mode) => Array.from({ length: perMode }, (_, i) => `${mode}${i}`));
const dovecot = await startDovecot({ users: names.map((name) => ({ name, password: "pw" })) });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const relays: TcpRelay[] = [];

async function measure(name: string): Promise<number> {
  const relay = await startTcpRelay({ targetPort: dovecot.imapPort });
  relays.push(relay);
  await dovecot.append(name, makeMessage({ subject: "before" }));
  const polling = name.startsWith("poll");
  // Polling every 10 minutes: only the silence check can find the dead path.
  const row = await seedImapMailbox({ name, host: "127.0.0.1", port: relay.port, username: name, useIdle: !polling, pollIntervalSeconds: 600 });
  await waitForMessages({ mailboxId: row.id, count: 1, everyMs: 20 });
  await waitForConnected(row.id);
  await sleep(1000);
  const frozenAt = performance.now();
  relay.freeze();
  await dovecot.append(name, makeMessage({ subject: "after" }));
  await waitForMessages({ mailboxId: row.id, count: 2, everyMs: 50 });
  return performance.now() - frozenAt;
}

// Everything else at its default (reconnect backoff 2-30 s included, its first retry after a
// liveness failure immediate).
const env: Record<string, string> = { DATABASE_URL: db.url, LOG_LEVEL: "warn" };
if (values.silence) env.EMAIL_IDLE_SILENCE_SECONDS = values.silence;
if (values.command) env.EMAIL_COMMAND_TIMEOUT_SECONDS = values.command;
if (values.keepalive) env.EMAIL_IDLE_KEEPALIVE_SECONDS = values.keepalive;
const watcher = await startWatcherProcess(env);
try {
  const results = await Promise.all(names.map(async (name) => ({ name, ms: await measure(name) })));
  const summary = Object.fromEntries(
    modes.map((mode) => {
      const ms = results.filter((r) => r.name.startsWith(mode)).map((r) => r.ms);
      return [mode, { median_s: Math.round(median(ms) / 100) / 10, max_s: Math.round(Math.max(...ms) / 100) / 10, runs: ms.length }];
    }),
  );
  console.log(
    JSON.stringify({
      idle_silence_seconds: Number(values.silence ?? 60),
      command_timeout_seconds: Number(values.command ?? 30),
      freeze_to_stored: summary,
    }),
  );
} finally {
  await watcher.stop();
  for (const relay of relays) await relay.close();
  await dovecot.stop();
  await closeDb();
  await db.stop();
}
