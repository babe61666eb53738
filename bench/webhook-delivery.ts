/**
 * Webhook delivery (issue 15): a backlog of N messages stored the way the watcher stores them
 * (insertIngestedMessages, batches of 50, each batch's events and pg-boss jobs in its transaction),
 * delivered by the real delivery queue (lib/jobs + lib/webhooks, in this process, with the env's
 * JOBS_POLL_MS / WEBHOOK_DELIVERY_CONCURRENCY) to a local receiver that checks every signature.
 * Latency = stored (batch commit) -> received; throughput = N / (last received - first stored).
 * Baseline in the same run: a bare HTTP POST loop of the same bodies to the same receiver,
 * sequential and with the same parallelism as the queue (workers x batch size).
 *
 *   node --import tsx bench/webhook-delivery.ts [--messages 1000] [--runs 3]
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import pino from "pino";
import { median, percentile, startBenchDatabase } from "./peers";
import { getFreePort } from "@/tests/harness/ports";
import { verifyStandardWebhook } from "@/tests/harness/webhook-receiver";

const { values } = parseArgs({ options: { messages: { type: "string", default: "1000" }, runs: { type: "string", default: "3" } } });
const N = Number(values.messages);
const RUNS = Number(values.runs);

const db = await startBenchDatabase();
const { createTenant } = await import("@/lib/db/queries/tenants");
const { saveMailbox } = await import("@/lib/db/queries/mailboxes");
const { insertIngestedMessages } = await import("@/lib/db/queries/messages");
const { closeDb } = await import("@/lib/db/client");
const { startJobQueue, stopJobQueue } = await import("@/lib/jobs/job-queue");
const { createTenantWebhook } = await import("@/lib/webhooks/endpoints");
const { deliveryHandler } = await import("@/lib/webhooks/deliver");
const { webhookDeliverySpec } = await import("@/lib/webhooks/webhook-queue");
const { getEnv } = await import("@/lib/env");

const log = pino({ level: "warn" });
const received = new Map<string, number>();
let secret = "";
let bad = 0;
const port = await getFreePort();
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString();
    if (req.url === "/hooks") {
      if (!verifyStandardWebhook(secret, req.headers, body)) bad++;
      const payload = JSON.parse(body) as { type: string; data: { subject?: string } };
      if (payload.type === "message.received" && payload.data.subject && !received.has(payload.data.subject)) {
        received.set(payload.data.subject, performance.now());
      }
    }
    res.writeHead(200).end("ok");
  });
});
await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
server.keepAliveTimeout = 5000;

const mail = (s: string): Buffer => Buffer.from(`From: a@agency.test\r\nSubject: ${s}\r\nMessage-ID: <${s}@b>\r\n\r\nReservation ${s}\r\n${"x".repeat(2000)}\r\n`);

type Run = { p50: number; p99: number; throughput: number };

async function queueRun(run: number): Promise<Run> {
  const tenant = await createTenant({ name: `Bench ${run}` });
  const mailbox = await saveMailbox({
    tenantId: tenant.id,
    purpose: "booking",
    fields: { provider: "imap", access: "imap", host: "127.0.0.1", port: 993, username: `b${run}`, enabled: false },
  });
  secret = (await createTenantWebhook({ tenantId: tenant.id, url: `http://127.0.0.1:${port}/hooks`, eventTypes: ["message.received"], inlineRawMaxBytes: 0 })).secret;
  received.clear();
  const storedAt = new Map<string, number>();
  for (let b = 0; b < N; b += 50) {
    const rows = Array.from({ length: Math.min(50, N - b) }, (_, i) => {
      const subject = `r${run}-m${b + i}`;
      const raw = mail(subject);
      return {
        tenantId: tenant.id,
        mailboxId: mailbox.id,
        purpose: "booking" as const,
        providerMessageId: subject,
        subject,
        raw,
        size: raw.length,
        status: "processed" as const,
        textBody: `Reservation ${subject}`,
        contentHash: createHash("sha256").update(raw).digest("hex"),
      };
    });
    await insertIngestedMessages({ rows, mailboxId: mailbox.id });
    const t = performance.now();
    for (const r of rows) storedAt.set(r.subject, t);
  }
  const first = Math.min(...storedAt.values());
  const deadline = Date.now() + 300_000;
  while (received.size < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (received.size < N) throw new Error(`only ${received.size} of ${N} delivered`);
  const lat = [...storedAt].map(([s, t]) => (received.get(s) as number) - t);
  const last = Math.max(...received.values());
  return { p50: median(lat), p99: percentile(lat, 99), throughput: N / ((last - first) / 1000) };
}

async function postLoop(parallel: number): Promise<Run> {
  const body = JSON.stringify({ type: "message.received", timestamp: new Date().toISOString(), data: { subject: "baseline", text: "x".repeat(2000) } });
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < N) {
        next++;
        const t = performance.now();
        const res = await fetch(`http://127.0.0.1:${port}/baseline`, { method: "POST", body, headers: { "content-type": "application/json" } });
        await res.text();
        lat.push(performance.now() - t);
      }
    }),
  );
  return { p50: median(lat), p99: percentile(lat, 99), throughput: N / ((performance.now() - t0) / 1000) };
}

const env = getEnv();
const spec = webhookDeliverySpec(deliveryHandler(log));
await startJobQueue({ specs: [spec as never], log });
const parallel = (spec.workers ?? 1) * (spec.batchSize ?? 1);
const results: { queue: Run[]; seq: Run[]; par: Run[] } = { queue: [], seq: [], par: [] };
for (let run = 0; run < RUNS; run++) {
  results.queue.push(await queueRun(run));
  results.seq.push(await postLoop(1));
  results.par.push(await postLoop(parallel));
}
await stopJobQueue();
const med = (rs: Run[]): Run => ({
  p50: Math.round(median(rs.map((r) => r.p50))),
  p99: Math.round(median(rs.map((r) => r.p99))),
  throughput: Math.round(median(rs.map((r) => r.throughput))),
});
const q = med(results.queue);
const s = med(results.seq);
const p = med(results.par);
console.log(
  JSON.stringify(
    {
      messages: N,
      runs: RUNS,
      settings: { JOBS_POLL_MS: env.JOBS_POLL_MS, WEBHOOK_DELIVERY_CONCURRENCY: env.WEBHOOK_DELIVERY_CONCURRENCY, batchSize: spec.batchSize, parallel },
      badSignatures: bad,
      queue: q,
      bareLoopSequential: s,
      bareLoopParallel: p,
      ratios: { throughputQueueVsParallelLoop: +(q.throughput / p.throughput).toFixed(3), throughputQueueVsSequentialLoop: +(q.throughput / s.throughput).toFixed(3) },
      perRun: results,
    },
    null,
    2,
  ),
);
server.close();
await closeDb();
await db.stop();
process.exit(0);
