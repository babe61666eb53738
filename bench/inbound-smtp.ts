/**
 * Issue 16 benchmark: SMTP "DATA end -> 250" latency (the 250 is sent only after the row is
 * committed, so this is DATA end -> committed row as the sender sees it) and sustained messages/s
 * from 8 parallel senders, for the real inbound process (mailauth against a local DNS server,
 * parse, INSERT, commit) and, in the same run, for a bare smtp-server sink that stores nothing.
 * Each sender is a minimal SMTP client on one connection, timing the final "." to the 250.
 *   npx tsx bench/inbound-smtp.ts [messagesPerSender=150] [rounds=3]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import net from "node:net";
import path from "node:path";
import { startTestDnsServer } from "@/tests/harness/dns-server";
import { getFreePort, waitFor } from "@/tests/harness/ports";
import { median, startBenchDatabase } from "./peers";

const root = path.resolve(import.meta.dirname, "..");
const PER_SENDER = Number(process.argv[2] ?? 150);
const ROUNDS = Number(process.argv[3] ?? 3);
const SENDERS = 8;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function message(i: number): string {
  const body = `Reservation ${i} for two adults, seven nights, half board.\r\n`.repeat(40);
  return [
    "From: Anex Tour <res@anextour.test>",
    "To: booking@hotel.test",
    `Subject: Reservation ${i}`,
    `Message-ID: <${randomBytes(10).toString("hex")}@anextour.test>`,
    "Date: Wed, 02 Dec 2026 04:00:00 +0000",
    "Content-Type: text/plain; charset=utf-8",
    "",
    body,
  ].join("\r\n");
}

/** One SMTP connection sending `count` messages; returns the DATA-end -> 250 times in ms. */
async function runSender(port: number, rcpt: string, count: number): Promise<number[]> {
  const socket = net.connect(port, "127.0.0.1");
  let buffer = "";
  const waiters: ((line: string) => void)[] = [];
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    let eol: number;
    while ((eol = buffer.indexOf("\r\n")) >= 0) {
      const line = buffer.slice(0, eol);
      buffer = buffer.slice(eol + 2);
      // Multi-line replies ("250-...") end with the "250 " line.
      if (/^\d{3} /.test(line)) waiters.shift()?.(line);
    }
  });
  const reply = (): Promise<string> => new Promise((resolve) => waiters.push(resolve));
  const command = async (line: string, expect: RegExp): Promise<void> => {
    const r = reply();
    socket.write(`${line}\r\n`);
    const got = await r;
    if (!expect.test(got)) throw new Error(`${line} -> ${got}`);
  };
  const greeting = await reply();
  if (!greeting.startsWith("220")) throw new Error(greeting);
  await command("EHLO bench.test", /^250/);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    await command("MAIL FROM:<bounce@anextour.test>", /^250/);
    await command(`RCPT TO:<${rcpt}>`, /^250/);
    await command("DATA", /^354/);
    const r = reply();
    socket.write(message(i));
    const started = performance.now();
    socket.write("\r\n.\r\n");
    const got = await r;
    times.push(performance.now() - started);
    if (!got.startsWith("250")) throw new Error(`DATA -> ${got}`);
  }
  await command("QUIT", /^221/);
  socket.destroy();
  return times;
}

async function runRound(port: number, rcpt: string): Promise<{ p50: number; p99: number; rate: number }> {
  const started = performance.now();
  const all = (await Promise.all(Array.from({ length: SENDERS }, () => runSender(port, rcpt, PER_SENDER)))).flat();
  const seconds = (performance.now() - started) / 1000;
  return { p50: percentile(all, 50), p99: percentile(all, 99), rate: all.length / seconds };
}

function spawnAndWait(args: string[], env: Record<string, string>, ready: () => Promise<boolean>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  child.stdout?.resume();
  return waitFor(ready, { timeoutMs: 30_000, what: args[0]! }).then(() => child);
}

async function main(): Promise<void> {
  const db = await startBenchDatabase();
  const dns = await startTestDnsServer();
  const { createTenantWithAdmin } = await import("@/lib/db/queries/tenants");
  const { saveMailbox } = await import("@/lib/db/queries/mailboxes");
  const { closeDb } = await import("@/lib/db/client");
  const { generateForwardingToken, buildForwardingAddress } = await import("@/lib/inbound/forwarding-address");
  const { tenant } = await createTenantWithAdmin({ name: "Bench", email: `bench-${randomBytes(3).toString("hex")}@x.test`, passwordHash: "x" });
  const token = generateForwardingToken();
  await saveMailbox({ tenantId: tenant.id, purpose: "booking", fields: { provider: "forwarding", access: "forwarding", forwardingToken: token, status: "connected" } });
  const rcpt = buildForwardingAddress({ token, domain: "inbound.localhost" });

  const sinkPort = await getFreePort();
  const sink = await spawnAndWait([path.join(root, "bench/inbound-sink.ts"), String(sinkPort)], {}, async () => {
    await new Promise<void>((resolve, reject) => net.connect(sinkPort, "127.0.0.1").once("connect", function (this: net.Socket) { this.destroy(); resolve(); }).once("error", reject));
    return true;
  });
  const smtpPort = await getFreePort();
  const healthPort = await getFreePort();
  const inbound = await spawnAndWait(
    [path.join(root, "inbound/index.ts")],
    {
      DATABASE_URL: db.url,
      INBOUND_SMTP_PORT: String(smtpPort),
      INBOUND_BIND_ADDRESS: "127.0.0.1",
      INBOUND_HEALTH_PORT: String(healthPort),
      INBOUND_DNS_SERVERS: `127.0.0.1:${dns.port}`,
      INBOUND_MAX_MESSAGES_PER_MINUTE_PER_IP: "1000000",
      LOG_LEVEL: "warn",
    },
    async () => (await fetch(`http://127.0.0.1:${healthPort}/health`)).ok,
  );

  // Warm-up (tsx transforms, worker threads, pool connections), not measured.
  await runSender(smtpPort, rcpt, 20);
  await runSender(sinkPort, rcpt, 20);
  const results: { sink: { p50: number; p99: number; rate: number }[]; inbound: { p50: number; p99: number; rate: number }[] } = { sink: [], inbound: [] };
  for (let round = 0; round < ROUNDS; round++) {
    // Alternating, so a noisy neighbour on the shared machine hits both sides alike.
    results.sink.push(await runRound(sinkPort, rcpt));
    results.inbound.push(await runRound(smtpPort, rcpt));
    process.stdout.write(`round ${round + 1}: sink ${JSON.stringify(results.sink.at(-1))} inbound ${JSON.stringify(results.inbound.at(-1))}\n`);
  }
  const { getPool } = await import("@/lib/db/client");
  const stored = Number((await getPool().query("SELECT count(*) AS n FROM ingested_messages")).rows[0].n);
  const summary = (rows: { p50: number; p99: number; rate: number }[]): { p50: number; p99: number; rate: number } => ({
    p50: Math.round(median(rows.map((r) => r.p50)) * 10) / 10,
    p99: Math.round(median(rows.map((r) => r.p99)) * 10) / 10,
    rate: Math.round(median(rows.map((r) => r.rate))),
  });
  const sinkSummary = summary(results.sink);
  const inboundSummary = summary(results.inbound);
  process.stdout.write(
    `${JSON.stringify({
      senders: SENDERS,
      messages_per_round: SENDERS * PER_SENDER,
      rounds: ROUNDS,
      sink: sinkSummary,
      inbound: inboundSummary,
      ratio: { p50: Math.round((inboundSummary.p50 / sinkSummary.p50) * 10) / 10, rate: Math.round((inboundSummary.rate / sinkSummary.rate) * 100) / 100 },
      stored_rows: stored,
      expected_rows: SENDERS * PER_SENDER * ROUNDS + 20,
    }, null, 1)}\n`,
  );
  inbound.kill("SIGTERM");
  sink.kill("SIGTERM");
  await closeDb();
  await dns.close();
  await db.stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
