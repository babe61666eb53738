/**
 * Idle cost of replica membership at many mailboxes (issue 19: "no per-mailbox timers or queries
 * that scale with idle mailboxes"). N mailbox rows are seeded and every one is held by another
 * session's advisory lock, so the watcher connects to no mail server: what it spends is its
 * reconcile tick, heartbeats and presence polls, and what PostgreSQL spends answering them.
 *
 *   npx tsx bench/replica-idle.ts --mailboxes 10000 --runs 3 --seconds 30
 *   npx tsx bench/replica-idle.ts --mailboxes 10000 --runs 3 --baseline-dir /work/main
 *
 * --watcher-dir / --baseline-dir name the checkout whose watcher/index.ts runs (its own node_modules),
 * so an older tree is measured against the same database in the same run, alternating
 * baseline, candidate per run. CPU is utime+stime from /proc: the watcher process, and every
 * `postgres` process of this benchmark's embedded server; percent of one core, medians of runs.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { savePlainImapMailbox } from "@/tests/harness/imap-mailbox";
import { getFreePort, waitFor } from "@/tests/harness/ports";
import { median, startBenchDatabase } from "./peers";
import { readProcStats } from "./proc-stats";

const { values } = parseArgs({
  options: {
    mailboxes: { type: "string", default: "10000" },
    runs: { type: "string", default: "3" },
    seconds: { type: "string", default: "30" },
    warmup: { type: "string", default: "15" },
    "watcher-dir": { type: "string", default: path.resolve(import.meta.dirname, "..") },
    "baseline-dir": { type: "string" },
  },
});
const MAILBOXES = Number(values.mailboxes);
const RUNS = Number(values.runs);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
/** Must equal MAILBOX_LOCK_CLASS of lib/db/queries/watcher-replicas.ts. */
const MAILBOX_LOCK_CLASS = 7230002;

const db = await startBenchDatabase();
const { createTenant } = await import("@/lib/db/queries/tenants");
const { closeDb } = await import("@/lib/db/client");

const readProcs = readProcStats;

/** CPU seconds so far of the watcher and of this benchmark's PostgreSQL (postgres descendants of this process). */
async function cpuNow(watcherPid: number): Promise<{ watcher: number; postgres: number }> {
  const procs = await readProcs();
  const children = new Map<number, number[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const mine = new Set<number>([process.pid]);
  const stack = [process.pid];
  while (stack.length) {
    for (const c of children.get(stack.pop()!) ?? []) {
      if (mine.has(c)) continue;
      mine.add(c);
      stack.push(c);
    }
  }
  let watcher = 0;
  let postgres = 0;
  for (const p of procs) {
    if (p.pid === watcherPid) watcher += p.cpu;
    else if (p.comm === "postgres" && mine.has(p.pid)) postgres += p.cpu;
  }
  return { watcher, postgres };
}

/** One template mailbox through the product's own path, then N-1 copies (one tenant each) in SQL. */
async function seed(sql: pg.Client): Promise<void> {
  const tenant = await createTenant({ name: "Bench 0" });
  const templateId = await savePlainImapMailbox({ tenantId: tenant.id, host: "127.0.0.1", port: 9, user: "nobody", password: "x" });
  const { rows } = await sql.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
      WHERE table_name = 'mailboxes' AND column_name NOT IN ('id', 'tenant_id', 'lock_key', 'created_at', 'updated_at')`,
  );
  const cols = rows.map((r) => `"${r.column_name}"`).join(", ");
  await sql.query(
    `WITH t AS (INSERT INTO tenants (name) SELECT 'Bench ' || i FROM generate_series(1, $1::int) i RETURNING id)
     INSERT INTO mailboxes (tenant_id, ${cols}) SELECT t.id, ${cols} FROM t, mailboxes m WHERE m.id = $2`,
    [MAILBOXES - 1, templateId],
  );
}

async function measure(dir: string): Promise<{ watcher: number; postgres: number }> {
  const port = await getFreePort();
  const child = spawn(process.execPath, ["--import", "tsx", path.join(dir, "watcher/index.ts")], {
    cwd: dir,
    env: { ...process.env, WATCHER_PORT: String(port), LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok, { timeoutMs: 120_000, what: "the watcher's /health" });
    await new Promise((r) => setTimeout(r, WARMUP * 1000));
    const a = await cpuNow(child.pid!);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const b = await cpuNow(child.pid!);
    const wall = (performance.now() - t0) / 1000;
    return { watcher: ((b.watcher - a.watcher) / wall) * 100, postgres: ((b.postgres - a.postgres) / wall) * 100 };
  } finally {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
}

const sql = new pg.Client({ connectionString: db.url });
await sql.connect();
try {
  await seed(sql);
  // Held by a session that is no watcher replica: the watcher below its fair share keeps looking for free ones.
  await sql.query(`SELECT count(*) FROM (SELECT pg_advisory_lock($1, lock_key) FROM mailboxes) l`, [MAILBOX_LOCK_CLASS]);
  const trees: [string, string][] = [
    ...(values["baseline-dir"] ? [["baseline", values["baseline-dir"]] as [string, string]] : []),
    ["candidate", values["watcher-dir"]!],
  ];
  const results = new Map<string, { watcher: number[]; postgres: number[] }>(trees.map(([name]) => [name, { watcher: [], postgres: [] }]));
  for (let run = 1; run <= RUNS; run++) {
    for (const [name, dir] of trees) {
      const r = await measure(dir);
      results.get(name)!.watcher.push(r.watcher);
      results.get(name)!.postgres.push(r.postgres);
      console.log(`run ${run} ${name} (${dir}): watcher ${r.watcher.toFixed(2)} %, postgres ${r.postgres.toFixed(2)} % of one core`);
    }
  }
  const summary = Object.fromEntries(
    [...results].map(([name, r]) => [
      name,
      { watcher_idle_cpu_pct: +median(r.watcher).toFixed(2), postgres_idle_cpu_pct: +median(r.postgres).toFixed(2), runs: r.watcher.length },
    ]),
  );
  console.log(JSON.stringify({ mailboxes: MAILBOXES, held_elsewhere: MAILBOXES, seconds: SECONDS, summary }, null, 2));
} finally {
  await sql.end();
  await closeDb();
  await db.stop();
}
