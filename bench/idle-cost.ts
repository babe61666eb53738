/**
 * Idle cost of an empty watcher (issue 19): one watcher process with no mailbox at all, on its own
 * embedded PostgreSQL, doing nothing but its timers (job-queue pollers, reconcile, presence,
 * alert scanner). Measures the CPU of the watcher and of its PostgreSQL from /proc over
 * `--seconds`, after `--settle` seconds of start-up, as % of one core.
 *
 * Variants run in the same process, interleaved per run so a noisy neighbour hits them alike:
 * "postgres only" (no watcher: the database's own floor), "default" (the watcher as configured),
 * and one per `--env` (comma-separated K=V pairs passed to that watcher only).
 *
 *   npx tsx bench/idle-cost.ts [--seconds 60] [--settle 20] [--runs 3] [--env JOBS_POLL_MS=1000]
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { startWatcherProcess } from "@/tests/harness/watcher-process";
import { median, startBenchDatabase } from "./peers";
import { readProcStats, type ProcStat } from "./proc-stats";


const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    settle: { type: "string", default: "20" },
    runs: { type: "string", default: "3" },
    env: { type: "string", multiple: true, default: [] },
  },
});
const seconds = Number(values.seconds);
const settle = Number(values.settle);
const runs = Number(values.runs);

type Variant = { name: string; env: Record<string, string> | null };

/** "K=V,K2=V2" as an environment; a malformed pair is an error, not silently ignored. */
function parseEnv(spec: string): Record<string, string> {
  return Object.fromEntries(
    spec.split(",").map((pair) => {
      const eq = pair.indexOf("=");
      if (eq <= 0) throw new Error(`--env expects K=V[,K=V], got "${spec}"`);
      return [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
    }),
  );
}

const variants: Variant[] = [
  { name: "postgres only", env: null },
  { name: "default", env: {} },
  ...values.env.map((spec) => ({ name: spec, env: parseEnv(spec) })),
];

type Proc = ProcStat;
const readProcs = readProcStats;

/**
 * CPU seconds used so far by a process tree: the root's own and reaped children's time plus its
 * live descendants' own time. A backend that exits mid-window moves from the second term to the
 * first (its postmaster reaps it), so short-lived connections are counted too.
 */
function treeCpu(procs: Proc[], root: number): number {
  const children = new Map<number, Proc[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const rootProc = procs.find((p) => p.pid === root);
  if (!rootProc) throw new Error(`process ${root} is gone`);
  let total = rootProc.cpu + rootProc.reaped;
  const stack = [...(children.get(root) ?? [])];
  while (stack.length) {
    const p = stack.pop()!;
    total += p.cpu;
    stack.push(...(children.get(p.pid) ?? []));
  }
  return total;
}

/** This benchmark's postmaster: a postgres process below this one whose parent is not postgres. */
async function findPostmaster(): Promise<number> {
  const procs = await readProcs();
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const isMine = (p: Proc): boolean => {
    for (let q: Proc | undefined = p; q; q = byPid.get(q.ppid)) if (q.ppid === process.pid) return true;
    return false;
  };
  const postmasters = procs.filter((p) => p.comm === "postgres" && byPid.get(p.ppid)?.comm !== "postgres" && isMine(p));
  if (postmasters.length !== 1) throw new Error(`expected one postmaster below this process, found ${postmasters.length}`);
  return postmasters[0]!.pid;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (cpuSeconds: number, wallSeconds: number): number => +((cpuSeconds / wallSeconds) * 100).toFixed(2);

const db = await startBenchDatabase();
const postmaster = await findPostmaster();
const samples = new Map<string, { watcher: number[]; postgres: number[] }>(variants.map((v) => [v.name, { watcher: [], postgres: [] }]));
console.log(
  JSON.stringify({ seconds, settle, runs, cores: os.cpus().length, loadavg_at_start: os.loadavg().map((x) => +x.toFixed(1)), variants: variants.map((v) => v.name) }),
);
try {
  for (let run = 1; run <= runs; run++) {
    for (const variant of variants) {
      const watcher = variant.env ? await startWatcherProcess({ DATABASE_URL: db.url, LOG_LEVEL: "error", ...variant.env }) : null;
      try {
        await sleep(settle * 1000);
        const before = await readProcs();
        const t0 = performance.now();
        await sleep(seconds * 1000);
        const after = await readProcs();
        const wall = (performance.now() - t0) / 1000;
        const s = samples.get(variant.name)!;
        s.postgres.push(pct(treeCpu(after, postmaster) - treeCpu(before, postmaster), wall));
        if (watcher) {
          const pid = watcher.child.pid!;
          s.watcher.push(pct(treeCpu(after, pid) - treeCpu(before, pid), wall));
        }
        console.log(`run ${run} ${variant.name}: watcher ${s.watcher.at(-1) ?? "-"} %, postgres ${s.postgres.at(-1)!} % of one core`);
      } finally {
        await watcher?.stop();
      }
    }
  }
} finally {
  await db.stop();
}

const rows = variants.map((v) => {
  const s = samples.get(v.name)!;
  return { variant: v.name, watcher: s.watcher.length ? median(s.watcher) : null, postgres: median(s.postgres), watcher_runs: s.watcher, postgres_runs: s.postgres };
});
const base = rows.find((r) => r.variant === "default")!;
const ratio = (a: number | null, b: number | null): string => (a !== null && b ? (a / b).toFixed(2) : "-");
console.log(`\nidle CPU, % of one core, median of ${runs} run(s) of ${seconds} s after ${settle} s settle`);
console.log("| variant | watcher | its PostgreSQL | watcher / default | PostgreSQL / default |");
console.log("|---|---:|---:|---:|---:|");
for (const r of rows) console.log(`| ${r.variant} | ${r.watcher ?? "-"} | ${r.postgres} | ${ratio(r.watcher, base.watcher)} | ${ratio(r.postgres, base.postgres)} |`);
console.log(JSON.stringify({ results: rows }));
