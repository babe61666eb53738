/**
 * The benchmark suite: every benchmark of bench/, one after another, each in its own process (they
 * start their own PostgreSQL, Dovecot and watcher, and must not share a heap or a port).
 *
 *   npm run bench                      # the sizes docs/benchmarks.md records (long: capacity is 2,000 mailboxes)
 *   npm run bench -- --quick           # small sizes: a few minutes, to see that every benchmark still runs
 *   npm run bench -- --only latency,parse-pool [--quick]
 *   npm run bench -- --list
 *
 * Each benchmark prints its own results; this runner adds a summary with exit codes and durations
 * and exits non-zero when any benchmark failed. push-latency needs a built web app (`npx next build`).
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { parseArgs } from "node:util";

type Benchmark = {
  name: string;
  file: string;
  /** The arguments of the runs recorded in docs/benchmarks.md. */
  full: string[];
  /** Small enough to finish in about a minute each. */
  quick: string[];
  /** Extra environment (same for both modes). */
  env?: Record<string, string>;
};

const BENCHMARKS: Benchmark[] = [
  { name: "parse-pool", file: "parse-pool.ts", full: ["--messages", "1000", "--runs", "5"], quick: ["--messages", "100", "--runs", "1"] },
  {
    name: "api-usage",
    file: "api-usage.ts",
    full: ["--messages", "200", "--batch", "50", "--live", "20"],
    quick: ["--messages", "20", "--batch", "10", "--live", "3"],
  },
  { name: "imap-commands", file: "imap-commands.ts", full: ["--messages", "20"], quick: ["--messages", "5"] },
  { name: "latency", file: "latency.ts", full: ["--messages", "30", "--gap-ms", "700"], quick: ["--messages", "5", "--gap-ms", "700"] },
  {
    name: "latency-gaps",
    file: "latency.ts",
    full: ["--messages", "20", "--gaps", "0.2-20", "--seed", "1"],
    quick: ["--messages", "3", "--gaps", "0.2-2", "--seed", "1"],
  },
  { name: "push-latency", file: "push-latency.ts", full: ["--messages", "20", "--gap-ms", "300"], quick: ["--messages", "3", "--gap-ms", "300"] },
  {
    name: "freeze-detection",
    file: "freeze-detection.ts",
    full: ["--mailboxes", "3"],
    quick: ["--mailboxes", "1", "--silence", "10", "--command", "5"],
  },
  {
    name: "idle-cost",
    file: "idle-cost.ts",
    full: ["--seconds", "60", "--settle", "20", "--runs", "3", "--env", "JOBS_POLL_MS=1000"],
    quick: ["--seconds", "10", "--settle", "10", "--runs", "1", "--env", "JOBS_POLL_MS=1000"],
  },
  {
    name: "replica-idle",
    file: "replica-idle.ts",
    full: ["--mailboxes", "10000", "--runs", "3", "--seconds", "30"],
    quick: ["--mailboxes", "500", "--runs", "1", "--seconds", "5", "--warmup", "5"],
  },
  {
    name: "capacity",
    file: "capacity.ts",
    full: ["--mailboxes", "2000", "--pool", "5", "--bursts", "5", "--bare-idle", "--skip-restart"],
    quick: ["--mailboxes", "50", "--pool", "5", "--bursts", "1", "--idle-seconds", "5", "--skip-restart"],
    env: { EMAIL_RECONCILE_SECONDS: "600" },
  },
];

type BenchResult = { name: string; code: number; seconds: number };

/** The benchmarks to run, in table order; an unknown name is an error, not silently nothing. */
function selectBenchmarks(only: string | undefined): Benchmark[] {
  if (!only) return BENCHMARKS;
  const names = only.split(",").map((n) => n.trim()).filter(Boolean);
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) throw new Error(`Unknown benchmark(s): ${unknown.join(", ")}. Known: ${BENCHMARKS.map((b) => b.name).join(", ")}.`);
  return BENCHMARKS.filter((b) => names.includes(b.name));
}

function runOne(bench: Benchmark, quick: boolean): Promise<BenchResult> {
  const started = performance.now();
  const args = ["--import", "tsx", path.join(import.meta.dirname, bench.file), ...(quick ? bench.quick : bench.full)];
  process.stdout.write(`\n=== ${bench.name}: node ${args.slice(2).join(" ")}\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: "inherit", env: { ...process.env, ...bench.env } });
    child.on("exit", (code, signal) => {
      resolve({ name: bench.name, code: code ?? (signal ? 128 : 1), seconds: Math.round((performance.now() - started) / 100) / 10 });
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: "boolean", default: false }, only: { type: "string" }, list: { type: "boolean", default: false } },
  });
  const selected = selectBenchmarks(values.only);
  if (values.list) {
    for (const b of selected) console.log(`${b.name.padEnd(18)} full: ${b.full.join(" ")}\n${"".padEnd(18)} quick: ${b.quick.join(" ")}`);
    return;
  }
  const results: BenchResult[] = [];
  for (const bench of selected) results.push(await runOne(bench, values.quick));
  console.log("\n=== summary");
  for (const r of results) console.log(`${r.code === 0 ? "ok  " : "FAIL"} ${r.name.padEnd(18)} ${r.seconds} s${r.code === 0 ? "" : ` (exit ${r.code})`}`);
  if (results.some((r) => r.code !== 0)) process.exitCode = 1;
}

await main();
