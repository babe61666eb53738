/**
 * Capacity benchmark (issue 7): one watcher process idling on N Dovecot mailboxes (default 2,000).
 *
 *   npx tsx bench/capacity.ts [--mailboxes 2000] [--pool 5] [--bursts 3] [--idle-seconds 30] [--json FILE]
 *
 * Measures, in one run:
 *  1. a baseline watcher on the same (still empty) database: resident memory with 0 mailboxes;
 *  2. the watcher with N mailboxes: time until all are connected (EMAIL_CONNECTION_POOL_SIZE=--pool),
 *     then idle resident memory (median of 1 s samples) and CPU (utime+stime from /proc/PID/stat
 *     over --idle-seconds), so memory per mailbox = (RSS - baseline RSS) / N;
 *  3. --bursts times: one new message into every mailbox at once (maildir delivery, the way an MDA
 *     delivers: write to tmp/, rename into new/), time until all N are stored; median reported;
 *  4. a Dovecot restart: time until all N are connected again.
 * Per burst also: each message's delivery -> stored time (a trigger copies every stored row's
 * clock_timestamp() into the side table bench_stored), p50 / p99, and how many were lost or stored
 * twice. With --bare-idle the same-run floors (bare clients told of new mail; bare clients that
 * fetch + mark read) give connect time, idle CPU, burst time and per-message p50 / p99, and the
 * run ends with the ratios product / floor and one SUMMARY line.
 *
 * Needs root (Dovecot harness) and the Debian dovecot packages. Dovecot is tuned for many idle
 * clients (see tuneDovecot below) and the open-file limit is raised for this process tree.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFile, chown, readFile, readdir, rename, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ImapFlow } from "imapflow";
import pg from "pg";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { getFreePort } from "@/tests/harness/ports";
import { median, percentile, startBenchDatabase } from "./peers";
import { fileDescriptorBudget } from "./fd-budget";
import { CLK_TCK, readProcStats } from "./proc-stats";

const root = path.resolve(import.meta.dirname, "..");
const { values: args } = parseArgs({
  options: {
    mailboxes: { type: "string", default: "2000" },
    pool: { type: "string", default: "5" },
    bursts: { type: "string", default: "3" },
    "idle-seconds": { type: "string", default: "30" },
    /**
     * Seconds between "all connected" and the idle measurement (default 20). The connect storm
     * leaves V8's memory reducer a few full collections to run over the next minute or two (~0.6 s
     * of main-thread marking at 2,000 mailboxes); a longer settle measures the idle state after them.
     * The floor's clients settle as long (they settled 10 s before this option).
     */
    "settle-seconds": { type: "string", default: "20" },
    json: { type: "string" },
    "skip-restart": { type: "boolean", default: false },
    /** Directory for a V8 CPU profile of the loaded watcher (written when it stops). */
    "cpu-prof": { type: "string" },
    /**
     * Same-run baselines before the watcher starts: N bare imapflow clients IDLE on the same
     * mailboxes; one burst where they only wait for EXISTS, one where each also does the
     * least IMAP work an ingesting client needs (FETCH with flags, STORE \\Seen, IDLE) without any database.
     */
    "bare-idle": { type: "boolean", default: false },
    /** Stop after the bare baselines (for Dovecot tuning experiments). */
    "bare-only": { type: "boolean", default: false },
    /** Connects at a time for the bare clients (they are not what is measured). */
    "bare-pool": { type: "string", default: "10" },
    /**
     * Sessions per Dovecot imap process. 500 (default): Dovecot's high-performance mode
     * (service_count = 0), a handful of imap processes for all 2,000 sessions. 1: one imap process
     * per session, as the test harness runs Dovecot (and as this benchmark did before): 2,000
     * processes woken at once by a burst, which on 2 cores costs more CPU than the watcher.
     */
    "imap-client-limit": { type: "string", default: "500" },
    /** Extra dovecot.conf lines (repeatable), e.g. --dovecot-extra "mail_fsync = never". */
    "dovecot-extra": { type: "string", multiple: true, default: [] },
  },
});
const N = Number(args.mailboxes);
const POOL = Number(args.pool);
const SETTLE_S = Number(args["settle-seconds"]);
const BURSTS = Number(args.bursts);
const IDLE_SECONDS = Number(args["idle-seconds"]);
const NOBODY = 65534;

type Watcher = { child: ChildProcess; port: number; pid: number; stop: () => Promise<void> };

function log(msg: string): void {
  process.stdout.write(`[capacity ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

const abort = new AbortController();

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      abort.signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    abort.signal.addEventListener("abort", onAbort, { once: true });
  });

async function until<T>(fn: () => Promise<T | false>, timeoutMs: number, what: string, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (abort.signal.aborted) throw new Error("interrupted");
    const v = await fn().catch(() => false as const);
    if (v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Every watcher process started, so an interrupted run leaves none behind. */
const spawned = new Set<ChildProcess>();

async function startWatcher(env: Record<string, string>): Promise<Watcher> {
  const port = await getFreePort();
  const prof = [
    ...(env.CPU_PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${env.CPU_PROF_DIR}`] : []),
    // e.g. BENCH_WATCHER_NODE_FLAGS=--trace-gc (NODE_OPTIONS refuses it; the parse threads drop it).
    ...(process.env.BENCH_WATCHER_NODE_FLAGS ? process.env.BENCH_WATCHER_NODE_FLAGS.split(" ") : []),
  ];
  const child = spawn(process.execPath, [...prof, "--import", "tsx", path.join(root, "watcher/index.ts")], {
    cwd: root,
    env: { ...process.env, WATCHER_PORT: String(port), LOG_LEVEL: "error", ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  spawned.add(child);
  void exited.then(() => spawned.delete(child));
  // The watcher answers /health once it has loaded its mailboxes; under load tsx's start-up alone
  // took over 100 s at 2,000 mailboxes, so the wait grows with N (30 ms per mailbox above 120 s).
  await until(async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok || false, 120_000 + N * 30, "watcher /health");
  return {
    child,
    port,
    pid: child.pid!,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

async function metric(w: Watcher, name: string): Promise<number> {
  const text = await (
    await fetch(`http://127.0.0.1:${w.port}/metrics`, { headers: { authorization: `Bearer ${process.env.INTERNAL_API_TOKEN ?? ""}` } })
  ).text();
  let sum = 0;
  let found = false;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
      found = true;
    }
  }
  if (!found) throw new Error(`metric ${name} missing`);
  return sum;
}

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kb) * 1024;
}

/** utime + stime in seconds. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** CPU seconds per thread name (V8 workers, libuv pool, main), user and system separately. */
async function cpuByThread(pid: number): Promise<Map<string, { user: number; system: number }>> {
  const out = new Map<string, { user: number; system: number }>();
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, "utf8").catch(() => "");
    if (!stat) continue;
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const key = tid === String(pid) ? "main" : name;
    const prev = out.get(key) ?? { user: 0, system: 0 };
    out.set(key, { user: prev.user + Number(fields[11]) / CLK_TCK, system: prev.system + Number(fields[12]) / CLK_TCK });
  }
  return out;
}

/** Median RSS over `seconds` of 1 s samples. */
async function sampleRss(pid: number, seconds: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < seconds && !abort.signal.aborted; i++) {
    samples.push(await rssBytes(pid));
    await sleep(1000);
  }
  return median(samples);
}

/**
 * The kernel for N mailboxes (issue 19's 10,000 mode), raised only where it is below what N needs,
 * best effort (a container may refuse /proc/sys writes: logged, not fatal). Per mailbox: one socket
 * at each end of the watcher's connection and one of each bare client's, Dovecot's inotify instance
 * and watches, file descriptors in Dovecot's imap processes; prlimit raises this process's open-file
 * limit, which Dovecot and the watcher inherit.
 */
async function tuneKernel(n: number, imapClientLimit: number): Promise<Record<string, string>> {
  const want: [string, number][] = [
    ["fs/inotify/max_user_instances", n * 2 + 1024],
    ["fs/inotify/max_user_watches", n * 16 + 65_536],
    ["fs/file-max", n * 16 + 100_000],
    ["net/core/somaxconn", 4096],
  ];
  const done: Record<string, string> = {};
  for (const [key, value] of want) {
    const file = `/proc/sys/${key}`;
    try {
      const current = Number((await readFile(file, "utf8")).trim().split(/\s+/)[0]);
      if (current >= value) continue;
      await writeFile(file, String(value));
      done[key] = `${current} -> ${value}`;
    } catch (err) {
      done[key] = `not raised (${(err as Error).message})`;
    }
  }
  // Per process (RLIMIT_NOFILE is per process; the watcher and Dovecot inherit this one's).
  const nofile = fileDescriptorBudget({ mailboxes: n, imapClientLimit }).largest;
  const limits = await readFile("/proc/self/limits", "utf8").catch(() => "");
  const [, softText, hardText] = /Max open files\s+(\d+)\s+(\S+)/.exec(limits) ?? [];
  const soft = Number(softText ?? 0);
  // The hard limit is the container's (raising it needs CAP_SYS_RESOURCE, refused here): the soft
  // limit goes as far up as the hard one allows, and a cap below what N needs is said, not hidden.
  const hard = hardText === "unlimited" ? Infinity : Number(hardText ?? 0);
  const target = Math.min(nofile, hard);
  if (soft >= target) {
    if (target < nofile) done.nofile = `soft ${soft} = hard limit, below the ${nofile} that the largest process needs for ${n} mailboxes`;
    return done;
  }
  try {
    execFileSync("prlimit", ["--pid", String(process.pid), `--nofile=${target}:${hardText}`]);
    done.nofile = `soft ${soft} -> ${target}${target < nofile ? ` (hard limit; ${nofile} wanted)` : ""}`;
  } catch (err) {
    done.nofile = `not raised (${(err as Error).message.split("\n")[0]})`;
  }
  return done;
}

/**
 * Dovecot for thousands of idle IDLE clients, on top of the harness's tuneForManyClients (login
 * processes in high-performance mode, default_client_limit 10000, mail_max_userip_connections,
 * inotify instance limits, one imap process per session; the open-file limit is inherited from
 * this process: check `ulimit -n` >= 3 x N). --imap-client-limit (default 500) puts many sessions
 * in one imap process instead.
 *
 * imap_hibernate_timeout is set to 0 (off) on purpose. Tried with 5 s: hibernation moves an idle
 * session to the imap-hibernate process, but the watcher wakes every session once per
 * EMAIL_RECONCILE_SECONDS (its safety re-sync), and unhibernating needs a free imap process: at the
 * process limit Dovecot 2.3 timed out ("Failed to unhibernate client") and dropped those
 * connections. Hibernation saves Dovecot's memory, not the watcher's, which is what is measured here.
 */
async function tuneDovecot(dovecot: DovecotInstance, clients: number, clientLimit: number, extra: string[]): Promise<void> {
  await appendFile(
    path.join(dovecot.dir, "dovecot.conf"),
    [
      "# capacity bench tuning",
      ...extra,
      "imap_hibernate_timeout = 0",
      // Dovecot 2.3 gives every IMAP session (user) its own imap process even with client_limit > 1:
      // the harness's process_limit of 1024 stopped this benchmark at exactly 1,024 connections
      // ("service(imap): process_limit (1024) reached, client connections are being dropped").
      "service imap {",
      `  process_limit = ${clients + 256}`,
      // Several sessions per imap process. The harness avoids this for tests because one process
      // with several IDLE sessions *of the same user* notifies only one of them; here every user
      // has exactly one session (the bare clients log out before the watcher connects), and every
      // burst checks that all N messages were stored.
      ...(clientLimit > 1 ? ["  service_count = 0", `  client_limit = ${clientLimit}`] : []),
      "}",
      "",
    ].join("\n"),
  );
  await restartDovecot(dovecot);
}

/**
 * dovecot.restart(), retried: with thousands of imap processes the old ones are still exiting when
 * the new master starts ("Dovecot is already running? Socket already exists"); the master refuses
 * until the last of them has closed its sockets.
 */
async function restartDovecot(dovecot: DovecotInstance): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await dovecot.restart();
      return;
    } catch (err) {
      if (attempt >= 60 || !/already running/i.test(String(err))) throw err;
      await sleep(1000);
    }
  }
}

/**
 * Maildir delivery as an MDA does it: write into tmp/, rename into new/ (atomic), owned by the mail
 * user. Returns each message's delivery time (epoch ms, right after its rename: the moment Dovecot
 * can see it), keyed by its subject `${tag} ${user}`.
 */
async function deliverToAll(dovecot: DovecotInstance, users: string[], tag: string): Promise<Map<string, number>> {
  const prepared: { tmp: string; dest: string }[] = [];
  for (const user of users) {
    const maildir = path.join(dovecot.dir, "mail", user, "Maildir");
    const name = `${Date.now()}.${randomBytes(6).toString("hex")}.${os.hostname()}`;
    const tmp = path.join(maildir, "tmp", name);
    await writeFile(tmp, makeMessage({ subject: `${tag} ${user}` }));
    await chown(tmp, NOBODY, NOBODY);
    prepared.push({ tmp, dest: path.join(maildir, "new", name) });
  }
  const delivered = new Map<string, number>();
  for (const [i, p] of prepared.entries()) {
    await rename(p.tmp, p.dest);
    delivered.set(`${tag} ${users[i]!}`, Date.now());
  }
  return delivered;
}

/** p50 / p99 / max in whole ms. */
function latencySummary(values: number[]): { p50_ms: number; p99_ms: number; max_ms: number; count: number } {
  if (values.length === 0) return { p50_ms: NaN, p99_ms: NaN, max_ms: NaN, count: 0 };
  return { p50_ms: Math.round(percentile(values, 50)), p99_ms: Math.round(percentile(values, 99)), max_ms: Math.round(Math.max(...values)), count: values.length };
}

/**
 * The stored time of every row, taken by the database itself: a trigger copies each new
 * ingested_messages row's subject with clock_timestamp() (when the row was written, inside the
 * watcher's statement) into a side table the watcher knows nothing about. Same clock as the
 * delivery times (one machine).
 */
async function installStoredClock(sql: pg.Client): Promise<void> {
  await sql.query(`
    CREATE TABLE bench_stored (subject text, mailbox_id uuid, stored_at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE INDEX bench_stored_subject ON bench_stored (subject);
    CREATE FUNCTION bench_stored_copy() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO bench_stored (subject, mailbox_id) VALUES (NEW.subject, NEW.mailbox_id); RETURN NULL; END $$;
    CREATE TRIGGER bench_stored_copy AFTER INSERT ON ingested_messages FOR EACH ROW EXECUTE FUNCTION bench_stored_copy();`);
}

/**
 * One burst's integrity and per-message latency: every delivered subject should be stored exactly
 * once. lost = delivered and never stored; duplicated = stored rows beyond the first per subject.
 */
async function burstOutcome(
  sql: pg.Client,
  tag: string,
  delivered: Map<string, number>,
): Promise<{ lost: number; duplicated: number; latency: ReturnType<typeof latencySummary> }> {
  const { rows } = await sql.query<{ subject: string; n: string; first_ms: string }>(
    `SELECT subject, count(*) AS n, (extract(epoch FROM min(stored_at)) * 1000)::float8 AS first_ms
       FROM bench_stored WHERE subject LIKE $1 GROUP BY subject`,
    [`${tag} %`],
  );
  let duplicated = 0;
  const latencies: number[] = [];
  for (const r of rows) {
    duplicated += Number(r.n) - 1;
    const at = delivered.get(r.subject);
    if (at !== undefined) latencies.push(Number(r.first_ms) - at);
  }
  const stored = new Set(rows.map((r) => r.subject));
  return { lost: [...delivered.keys()].filter((k) => !stored.has(k)).length, duplicated, latency: latencySummary(latencies) };
}


/**
 * CPU seconds (utime + stime of live processes) by who uses them: the watcher, this Dovecot (its
 * master and every descendant: one imap process per session), this benchmark's PostgreSQL, this
 * benchmark process, and everything else on the machine (other people's work on a shared VM).
 */
async function cpuByGroup(dovecot: DovecotInstance, watcherPid?: number): Promise<Record<string, number>> {
  const stats = await readProcStats();
  const masterPid = Number((await readFile(path.join(dovecot.dir, "run", "master.pid"), "utf8").catch(() => "")).trim());
  const children = new Map<number, number[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s.pid]);
  const descendants = (root: number): Set<number> => {
    const out = new Set<number>([root]);
    const stack = [root];
    while (stack.length) {
      for (const c of children.get(stack.pop()!) ?? []) {
        if (out.has(c)) continue;
        out.add(c);
        stack.push(c);
      }
    }
    return out;
  };
  const dovecotPids = masterPid > 0 ? descendants(masterPid) : new Set<number>();
  const mine = descendants(process.pid);
  const groups: Record<string, number> = { watcher: 0, dovecot: 0, postgres: 0, bench: 0, other: 0 };
  for (const s of stats) {
    const group =
      s.pid === watcherPid
        ? "watcher"
        : dovecotPids.has(s.pid)
          ? "dovecot"
          : s.comm === "postgres" && mine.has(s.pid)
            ? "postgres"
            : s.pid === process.pid
              ? "bench"
              : "other";
    // With its reaped children: a PostgreSQL backend or a Dovecot process that exits during a burst
    // moves its CPU into its parent's cutime (same group), where it is still counted. Without it the
    // 10,000 run's PostgreSQL column read -3.04 CPU-s (backends had exited during the burst).
    groups[group]! += s.cpu + s.reaped;
  }
  return groups;
}

/** How many processes this Dovecot runs (with one imap process per session: about N). */
async function dovecotProcessCount(dovecot: DovecotInstance): Promise<number> {
  const stats = await readProcStats();
  const masterPid = Number((await readFile(path.join(dovecot.dir, "run", "master.pid"), "utf8").catch(() => "")).trim());
  const inTree = new Set<number>([masterPid]);
  // Parents come before children often enough; repeat until nothing is added.
  for (let added = true; added; ) {
    added = false;
    for (const s of stats) {
      if (inTree.has(s.ppid) && !inTree.has(s.pid)) {
        inTree.add(s.pid);
        added = true;
      }
    }
  }
  return inTree.size;
}

function cpuDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((k) => [k, +((after[k] ?? 0) - (before[k] ?? 0)).toFixed(2)]));
}

/** Transactions committed and rows written, from PostgreSQL's cumulative statistics. */
async function pgCounters(sql: pg.Client): Promise<{ commits: number; inserts: number; mailboxUpdates: number }> {
  // Backends report their statistics at most once a second; clear this session's snapshot cache.
  await sql.query("SELECT pg_stat_clear_snapshot()");
  const { rows } = await sql.query<{ commits: string; inserts: string; updates: string }>(`
    SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits,
           (SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'ingested_messages') AS inserts,
           (SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'mailboxes') AS updates`);
  return { commits: Number(rows[0]?.commits), inserts: Number(rows[0]?.inserts), mailboxUpdates: Number(rows[0]?.updates) };
}

/** CLOCK_MONOTONIC in µs: the clock of V8 CPU profiles' sample timestamps, for bench/cpu-profile-summary.ts. */
const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/**
 * Same-run baselines without the watcher: N bare imapflow clients, one per mailbox, IDLE.
 * "exists": time from the start of delivery until every client has been sent EXISTS.
 * "imap": the same, and each client then does the least IMAP work an ingesting client can do for
 * its new mail, as the IMAP provider does it (DONE, UID FETCH cursor:* with FLAGS and BODY.PEEK[],
 * UID STORE +FLAGS.SILENT \Seen, IDLE again) with no database and no parsing; time until all N are done.
 */
async function bareIdleBaseline(
  dovecot: DovecotInstance,
  users: { name: string; password: string }[],
  concurrency: number,
): Promise<Record<string, unknown>> {
  let mode: "imap" | "exists" = "imap";
  /** Client index -> epoch ms when it was told (exists) or had fetched and marked read (imap). */
  const done = new Map<number, number>();
  const clients: ImapFlow[] = [];
  /** Per client: every UID below has been looked at (starts at UIDNEXT), as in the IMAP provider. */
  const cursors: number[] = [];
  let failures = 0;
  const onExists = async (client: ImapFlow, i: number): Promise<void> => {
    if (mode === "exists") {
      if (!done.has(i)) done.set(i, Date.now());
      return;
    }
    try {
      const uids: number[] = [];
      for await (const msg of client.fetch(`${cursors[i]}:*`, { uid: true, flags: true, source: true, internalDate: true }, { uid: true })) {
        if (msg.uid >= cursors[i]! && !msg.flags?.has("\\Seen")) uids.push(msg.uid);
        cursors[i] = Math.max(cursors[i]!, msg.uid + 1);
      }
      if (uids.length) await client.messageFlagsAdd(uids, ["\\Seen"], { uid: true, silent: true });
      if (!done.has(i)) done.set(i, Date.now());
    } catch {
      failures++;
    }
    client.idle().catch(() => {});
  };
  const c0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < users.length) {
        const i = next++;
        const user = users[i]!;
        const client = new ImapFlow({
          host: dovecot.host,
          port: dovecot.imapPort,
          secure: false,
          auth: { user: user.name, pass: user.password },
          logger: false,
          disableAutoIdle: true,
        });
        client.on("error", () => {});
        await client.connect();
        const opened = await client.mailboxOpen("INBOX");
        cursors[i] = Number(opened.uidNext);
        client.on("exists", () => void onExists(client, i));
        client.idle().catch(() => {});
        clients[i] = client;
      }
    }),
  );
  const out: Record<string, unknown> = {
    connect_all_s: +((performance.now() - c0) / 1000).toFixed(1),
    dovecot_processes: await dovecotProcessCount(dovecot),
  };
  log(`bare: ${users.length} IDLE clients connected in ${String(out.connect_all_s)} s`);
  // The same settle as the watcher's, so both idle figures are taken as long after their connects.
  await sleep(SETTLE_S * 1000);
  // The floor's idle cost: this process holds the N IDLE sessions and does nothing else now.
  const idle0 = process.cpuUsage();
  const idleT0 = performance.now();
  await sleep(Math.min(IDLE_SECONDS, 60) * 1000);
  const idleUsage = process.cpuUsage(idle0);
  out.idle_cpu_pct_of_one_core = +(((idleUsage.user + idleUsage.system) / 1000 / (performance.now() - idleT0)) * 100).toFixed(2);
  log(`bare: idle CPU ${String(out.idle_cpu_pct_of_one_core)}% of one core`);
  // As many bursts per floor as the watcher gets (--bursts), medians, like the watcher's figures: a
  // single floor burst (the first one is the slowest) made the ratios a coin toss. All "imap"
  // bursts first: an "exists" burst leaves its message unread and the cursor where it was.
  for (const m of ["imap", "exists"] as const) {
    const runs: { delivered_s: number; all_s: number; per_message: ReturnType<typeof latencySummary>; cpu_s: Record<string, number> }[] = [];
    for (let b = 0; b < BURSTS; b++) {
      mode = m;
      done.clear();
      const cpu0 = await cpuByGroup(dovecot);
      const t = performance.now();
      const delivered = await deliverToAll(dovecot, users.map((u) => u.name), `bare-${m}-${b}`);
      const deliveredS = (performance.now() - t) / 1000;
      await until(async () => done.size >= users.length || false, 10 * 60_000, `bare ${m}`, 50);
      const s = (performance.now() - t) / 1000;
      const cpu = cpuDelta(cpu0, await cpuByGroup(dovecot));
      const latencies = users.map((u, i) => done.get(i)! - delivered.get(`bare-${m}-${b} ${u.name}`)!);
      runs.push({ delivered_s: +deliveredS.toFixed(2), all_s: +s.toFixed(2), per_message: latencySummary(latencies), cpu_s: cpu });
      log(`bare ${m} ${b}: delivered in ${deliveredS.toFixed(2)} s, all ${users.length} done after ${s.toFixed(2)} s; per message ${JSON.stringify(latencySummary(latencies))}; CPU s ${JSON.stringify(cpu)}`);
      await sleep(10_000);
    }
    out[m] = {
      all_s: +median(runs.map((r) => r.all_s)).toFixed(2),
      per_message: {
        p50_ms: Math.round(median(runs.map((r) => r.per_message.p50_ms))),
        p99_ms: Math.round(median(runs.map((r) => r.per_message.p99_ms))),
      },
      // This process's CPU per message: the bare clients' IMAP work AND the maildir delivery (which
      // this process also does in the watcher's bursts: see bursts[].cpu_s.bench there).
      bench_cpu_ms_per_message: +((median(runs.map((r) => r.cpu_s.bench ?? 0)) * 1000) / users.length).toFixed(2),
      bursts: runs,
    };
  }
  out.failures = failures;
  // Leave nothing unseen for the watcher: the "exists" burst's messages are marked read here.
  await Promise.all(
    clients.map(async (client) => {
      await client.messageFlagsAdd("1:*", ["\\Seen"]).catch(() => {});
      await client.logout().catch(() => client.close());
    }),
  );
  return out;
}

type BareResult = {
  connect_all_s: number;
  idle_cpu_pct_of_one_core: number;
  exists?: { all_s: number; per_message: { p50_ms: number; p99_ms: number } };
  imap?: { all_s: number; per_message: { p50_ms: number; p99_ms: number }; bench_cpu_ms_per_message: number };
};

const signed = (n: number): string => (n >= 0 ? `+${n}` : String(n));

/** One line with every #19 acceptance figure of this run, product against its same-run floor. */
function summaryLine(r: Record<string, unknown>): string {
  const bare = r.bare as BareResult | undefined;
  const floor = (x: unknown, ratio: unknown): string => (bare ? ` (floor ${String(x)}, ${String(ratio)}x)` : "");
  return [
    `SUMMARY ${String(r.mailboxes)} mailboxes:`,
    `burst stored ${String(r.burst_stored_median_s)} s${floor(bare?.imap?.all_s, r.ratio_vs_bare_imap)}${bare ? `, told ${String(bare.exists?.all_s)} s` : ""};`,
    `per message p50/p99 ${String(r.per_message_p50_ms)}/${String(r.per_message_p99_ms)} ms${bare ? ` (floor ${String(bare.imap?.per_message.p50_ms)}/${String(bare.imap?.per_message.p99_ms)}, p99 ${signed(r.p99_minus_bare_imap_p99_ms as number)} ms)` : ""};`,
    `lost ${String(r.lost)} duplicated ${String(r.duplicated)};`,
    `CPU ${String(r.watcher_cpu_ms_per_message)} ms/msg${bare ? ` (floor process incl. delivery ${String(bare.imap?.bench_cpu_ms_per_message)})` : ""};`,
    `idle CPU ${String(r.idle_cpu_pct_of_one_core)}%${floor(`${String(bare?.idle_cpu_pct_of_one_core)}%`, r.idle_cpu_ratio_vs_bare)}, empty watcher ${String(r.baseline_idle_cpu_pct_of_one_core)}%;`,
    `connected ${String(r.connect_all_s)} s${floor(bare?.connect_all_s, r.connect_ratio_vs_bare)}, ${String(r.connect_after_ready_ratio_vs_bare ?? "")}x after ready;`,
    `RSS ${String(r.rss_per_mailbox_mb)} MB/mailbox above empty`,
  ].join(" ");
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = {
    mailboxes: N,
    pool: POOL,
    cores: os.cpus().length,
    loadavg_at_start: os.loadavg().map((x) => Math.round(x * 10) / 10),
    imap_client_limit: Number(args["imap-client-limit"]),
    dovecot_extra: args["dovecot-extra"],
    // Settings passed through to the watcher from this process's environment, when set.
    env: Object.fromEntries(
      ["EMAIL_RECONCILE_SECONDS", "WATCHER_RECONCILE_SECONDS", "EMAIL_FETCH_BATCH_SIZE"].filter((k) => process.env[k]).map((k) => [k, process.env[k]]),
    ),
  };
  const db = await startBenchDatabase();
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  await installStoredClock(sql);
  const users = Array.from({ length: N }, (_, i) => ({ name: `cap${String(i).padStart(5, "0")}`, password: `pw-${i}` }));
  const kernel = await tuneKernel(N, Number(args["imap-client-limit"]));
  if (Object.keys(kernel).length > 0) log(`kernel tuned for ${N} mailboxes: ${JSON.stringify(kernel)}`);
  log(`starting Dovecot with ${N} users`);
  const dovecot = await startDovecot({ users, tuneForManyClients: true });
  let watcher: Watcher | undefined;
  try {
    await tuneDovecot(dovecot, N, Number(args["imap-client-limit"]), args["dovecot-extra"]);
    const watcherEnv = {
      DATABASE_URL: db.url,
      EMAIL_CONNECTION_POOL_SIZE: String(POOL),
      DB_POOL_SIZE: "10",
    };

    if (args["bare-idle"]) {
      log(`bare IDLE clients baseline (${N} connections, ${args["bare-pool"]} connects at a time)`);
      results.bare = await bareIdleBaseline(dovecot, users, Number(args["bare-pool"]));
    }
    if (args["bare-only"]) return;

    log("baseline: watcher with 0 mailboxes");
    const baseline = await startWatcher(watcherEnv);
    await sleep(10_000);
    const baseCpu0 = await cpuSeconds(baseline.pid);
    const baseT0 = performance.now();
    const baselineRss = await sampleRss(baseline.pid, 15);
    results.baseline_idle_cpu_pct_of_one_core = +((((await cpuSeconds(baseline.pid)) - baseCpu0) / ((performance.now() - baseT0) / 1000)) * 100).toFixed(2);
    await baseline.stop();
    results.baseline_rss_mb = +(baselineRss / 2 ** 20).toFixed(1);
    log(`baseline RSS ${results.baseline_rss_mb} MB, CPU ${String(results.baseline_idle_cpu_pct_of_one_core)}% of one core`);

    log(`creating ${N} mailboxes`);
    const { getSecretBox } = await import("@/lib/crypto/secret-box");
    const { createTenant } = await import("@/lib/db/queries/tenants");
    const { saveMailbox } = await import("@/lib/db/queries/mailboxes");
    const box = getSecretBox();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < N) {
          const i = next;
          next += 2;
          const tenant = await createTenant({ name: `Capacity ${i / 2}` });
          for (const [k, purpose] of (["booking", "stopsale"] as const).entries()) {
            const user = users[i + k];
            if (!user) continue;
            await saveMailbox({
              tenantId: tenant.id,
              purpose,
              fields: {
                provider: "imap",
                access: "imap",
                host: dovecot.host,
                port: dovecot.imapPort,
                address: `${user.name}@capacity.test`,
                username: user.name,
                useSsl: false,
                tlsMode: "none",
                authMethod: "password",
                passwordEncrypted: box.encrypt(user.password),
                useIdle: true,
                folder: "INBOX",
                enabled: true,
              },
            });
          }
        }
      }),
    );

    log(`watcher with ${N} mailboxes, pool ${POOL}`);
    const started = performance.now();
    watcher = await startWatcher({ ...watcherEnv, ...(args["cpu-prof"] ? { CPU_PROF_DIR: args["cpu-prof"] } : {}) });
    const w = watcher;
    const readyMs = performance.now() - started;
    let lastLog = 0;
    await until(
      async () => {
        const open = await metric(w, "watcher_connections_open");
        if (Date.now() - lastLog > 10_000) {
          lastLog = Date.now();
          log(`  ${open} / ${N} connected`);
        }
        return open >= N || false;
      },
      30 * 60_000,
      "all connected",
      250,
    );
    const connectMs = performance.now() - started;
    results.process_ready_s = +(readyMs / 1000).toFixed(1);
    results.connect_all_s = +(connectMs / 1000).toFixed(1);
    results.connect_rate_per_s = +(N / (connectMs / 1000)).toFixed(1);
    log(`all ${N} connected after ${results.connect_all_s} s (process ready after ${results.process_ready_s} s)`);

    log(`settling ${SETTLE_S} s, then idle measurements`);
    await sleep(SETTLE_S * 1000);
    const cpu0 = await cpuSeconds(w.pid);
    const threads0 = await cpuByThread(w.pid);
    const t0 = performance.now();
    const idleWindow0 = monotonicUs();
    const rss = await sampleRss(w.pid, IDLE_SECONDS);
    const idleSeconds = (performance.now() - t0) / 1000;
    results.idle_profile_window_us = [idleWindow0, monotonicUs()];
    const cpuPct = (((await cpuSeconds(w.pid)) - cpu0) / idleSeconds) * 100;
    const threads1 = await cpuByThread(w.pid);
    results.idle_cpu_pct_by_thread = Object.fromEntries(
      [...threads1]
        .map(([name, t]) => {
          const before = threads0.get(name) ?? { user: 0, system: 0 };
          return [name, { user: +(((t.user - before.user) / idleSeconds) * 100).toFixed(2), system: +(((t.system - before.system) / idleSeconds) * 100).toFixed(2) }] as const;
        })
        .filter(([, v]) => v.user + v.system > 0),
    );
    const heapUsed = await metric(w, "nodejs_heap_size_used_bytes");
    results.dovecot_processes_idle = await dovecotProcessCount(dovecot);
    results.idle_rss_mb = +(rss / 2 ** 20).toFixed(1);
    results.rss_per_mailbox_mb = +((rss - baselineRss) / N / 2 ** 20).toFixed(4);
    results.heap_used_mb = +(heapUsed / 2 ** 20).toFixed(1);
    results.idle_cpu_pct_of_one_core = +cpuPct.toFixed(2);
    results.idle_settle_s = SETTLE_S;
    log(`idle RSS ${results.idle_rss_mb} MB (${results.rss_per_mailbox_mb} MB per mailbox), heap ${results.heap_used_mb} MB, CPU ${results.idle_cpu_pct_of_one_core}% of one core`);

    const burstTimes: number[] = [];
    /** Watcher CPU seconds used per burst: its own cost of storing N messages. */
    const burstCpu: number[] = [];
    const bursts: Record<string, unknown>[] = [];
    for (let b = 0; b < BURSTS; b++) {
      const before = Number((await sql.query<{ n: string }>("SELECT count(*) AS n FROM ingested_messages")).rows[0]?.n);
      const pg0 = await pgCounters(sql);
      const groups0 = await cpuByGroup(dovecot, w.pid);
      const loadavg = os.loadavg()[0]!;
      const t = performance.now();
      const window0 = monotonicUs();
      const burstCpu0 = await cpuSeconds(w.pid);
      const tag = `burst-${b}`;
      const delivered = await deliverToAll(dovecot, users.map((u) => u.name), tag);
      const deliveredMs = performance.now() - t;
      let polls = 0;
      // A message that never arrives must not hang the run: after the wait it is counted as lost.
      const complete = await until(
        async () => {
          polls++;
          const n = Number((await sql.query<{ n: string }>("SELECT count(*) AS n FROM ingested_messages")).rows[0]?.n);
          return n - before >= N || false;
        },
        Math.max(5 * 60_000, N * 150),
        `burst ${b} stored`,
        100,
      ).catch((err: unknown) => {
        if (abort.signal.aborted) throw err;
        log(`burst ${b}: ${(err as Error).message}`);
        return false;
      });
      const storedMs = performance.now() - t;
      const window1 = monotonicUs();
      burstTimes.push(storedMs / 1000);
      burstCpu.push((await cpuSeconds(w.pid)) - burstCpu0);
      const groups = cpuDelta(groups0, await cpuByGroup(dovecot, w.pid));
      log(`burst ${b}: ${N} delivered in ${(deliveredMs / 1000).toFixed(2)} s, all stored after ${(storedMs / 1000).toFixed(2)} s; CPU s ${JSON.stringify(groups)}`);
      await sleep(10_000);
      // After the pause: the watcher's statistics have reached PostgreSQL; the pause's own
      // idle work (re-syncs) is a few statements against thousands.
      const pg1 = await pgCounters(sql);
      // Also after the pause, so a late duplicate is counted.
      const outcome = await burstOutcome(sql, tag, delivered);
      log(`burst ${b}: lost ${outcome.lost}, duplicated ${outcome.duplicated}, append -> stored ${JSON.stringify(outcome.latency)}`);
      bursts.push({
        stored_s: +(storedMs / 1000).toFixed(2),
        complete: complete !== false,
        lost: outcome.lost,
        duplicated: outcome.duplicated,
        per_message: outcome.latency,
        delivered_s: +(deliveredMs / 1000).toFixed(2),
        loadavg_1m_before: +loadavg.toFixed(1),
        cpu_s: groups,
        cpu_s_all_groups: +Object.values(groups).reduce((a, v) => a + v, 0).toFixed(2),
        // The benchmark's own polling (one count(*) per 100 ms, plus these counter reads) is subtracted.
        db_commits_per_message: +((pg1.commits - pg0.commits - polls - 2) / N).toFixed(2),
        rows_inserted: pg1.inserts - pg0.inserts,
        mailbox_updates_per_message: +((pg1.mailboxUpdates - pg0.mailboxUpdates) / N).toFixed(2),
        profile_window_us: [window0, window1],
      });
    }
    results.bursts = bursts;
    results.burst_stored_s = burstTimes.map((x) => +x.toFixed(2));
    results.burst_stored_median_s = +median(burstTimes).toFixed(2);
    results.burst_watcher_cpu_s = burstCpu.map((x) => +x.toFixed(2));
    results.watcher_cpu_ms_per_message = +((median(burstCpu) * 1000) / N).toFixed(2);
    type Outcome = { lost: number; duplicated: number; per_message: { p50_ms: number; p99_ms: number } };
    const outcomes = bursts as Outcome[];
    results.lost = outcomes.reduce((n, o) => n + o.lost, 0);
    results.duplicated = outcomes.reduce((n, o) => n + o.duplicated, 0);
    results.per_message_p50_ms = Math.round(median(outcomes.map((o) => o.per_message.p50_ms)));
    results.per_message_p99_ms = Math.round(median(outcomes.map((o) => o.per_message.p99_ms)));
    const bare = results.bare as BareResult | undefined;
    if (bare?.exists && bare.imap) {
      results.ratio_vs_bare_exists = +(median(burstTimes) / bare.exists.all_s).toFixed(2);
      results.ratio_vs_bare_imap = +(median(burstTimes) / bare.imap.all_s).toFixed(2);
      results.connect_ratio_vs_bare = +((results.connect_all_s as number) / bare.connect_all_s).toFixed(2);
      results.connect_after_ready_ratio_vs_bare = +(((results.connect_all_s as number) - (results.process_ready_s as number)) / bare.connect_all_s).toFixed(2);
      results.idle_cpu_ratio_vs_bare = +((results.idle_cpu_pct_of_one_core as number) / bare.idle_cpu_pct_of_one_core).toFixed(2);
      results.p99_minus_bare_imap_p99_ms = (results.per_message_p99_ms as number) - bare.imap.per_message.p99_ms;
    }
    results.ingest_latency_count = await metric(w, "ingest_latency_seconds_count");
    results.ingest_latency_sum_s = +(await metric(w, "ingest_latency_seconds_sum")).toFixed(1);

    results.summary = summaryLine(results);
    log(results.summary as string);

    if (!args["skip-restart"]) {
      log("Dovecot restart");
      const r0 = performance.now();
      await restartDovecot(dovecot);
      await until(async () => (await metric(w, "watcher_connections_open")) < N || false, 60_000, "disconnects seen", 50);
      await until(async () => (await metric(w, "watcher_connections_open")) >= N || false, 30 * 60_000, "all reconnected", 250);
      results.reconnect_after_restart_s = +((performance.now() - r0) / 1000).toFixed(1);
      log(`all ${N} connected again ${results.reconnect_after_restart_s} s after the restart began`);
    }
    results.loadavg_at_end = os.loadavg().map((x) => Math.round(x * 10) / 10);
    const dovecotLog = await readFile(path.join(dovecot.dir, "dovecot.log"), "utf8").catch(() => "");
    const errors = dovecotLog.split("\n").filter((l) => / (Error|Fatal|Panic): /.test(l));
    results.dovecot_log_errors = errors.length;
    results.dovecot_hibernations = (dovecotLog.match(/hibernat/gi) ?? []).length;
    for (const line of errors.slice(0, 5)) log(`dovecot: ${line}`);
  } finally {
    await watcher?.stop().catch(() => {});
    for (const child of spawned) child.kill("SIGKILL");
    await sql.end().catch(() => {});
    const { closeDb } = await import("@/lib/db/client");
    await closeDb().catch(() => {});
    await dovecot.stop();
    await db.stop();
    // Also after --bare-only, which returns early, and after an interrupted run: what was measured.
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    if (args.json) await writeFile(args.json, `${JSON.stringify(results, null, 2)}\n`);
  }
}

// Ctrl+C / SIGTERM: leave through main's finally blocks (watcher, Dovecot, PostgreSQL are stopped).
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping`);
    abort.abort();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
