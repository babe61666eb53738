/**
 * Issue 7 acceptance: three watcher processes share 300 Dovecot mailboxes through PostgreSQL
 * advisory locks. Each mailbox is watched by exactly one replica (checked from three sides: the
 * replicas' own metrics, the locks in pg_locks, and Dovecot's list of logged-in users); a SIGKILLed
 * replica's mailboxes are watched again within 15 s; mail APPENDed during the takeover is stored
 * exactly once; a joining replica gets its fair share; SIGTERM hands mailboxes over with nothing lost.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import { readFile, readdir, readlink } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { useFreshDatabase } from "@/tests/harness/database";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { getFreePort, waitFor } from "@/tests/harness/ports";
import type { WatcherProcess } from "@/tests/harness/watcher-process";

const database = await useFreshDatabase();
const pgPort = Number(new URL(database.url).port || 5432);
const { getSecretBox } = await import("@/lib/crypto/secret-box");
const { createTenant } = await import("@/lib/db/queries/tenants");
const { saveMailbox } = await import("@/lib/db/queries/mailboxes");
const { closeDb } = await import("@/lib/db/client");

const execFileAsync = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..", "..");
const MAILBOXES = 300;
const TAKEOVER_LIMIT_MS = 15_000;
const users = Array.from({ length: MAILBOXES }, (_, i) => ({ name: `r${String(i).padStart(3, "0")}`, password: `pw-${i}` }));

let dovecot: DovecotInstance;
let sql: pg.Client;
const watchers: WatcherProcess[] = [];
/** mailbox id -> Dovecot user */
const mailboxUser = new Map<string, string>();
/** Every subject appended, per user: what must end up stored exactly once. */
const appended = new Map<string, string[]>();

function watcherEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, DATABASE_URL: database.url, LOG_LEVEL: "info", ...extra };
}

/**
 * Like tests/harness/watcher-process.ts, with a longer start-up allowance: on a busy 2-core machine
 * tsx needs well over its 30 s to load the watcher while other replicas are busy connecting.
 */
async function startWatcher(): Promise<WatcherProcess> {
  const port = await getFreePort();
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "watcher/index.ts")], {
    cwd: root,
    env: watcherEnv({ WATCHER_PORT: String(port) }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  // REPLICA_TEST_LOG_DIR=/some/dir keeps every replica's full log for a post-mortem.
  const logFile = process.env.REPLICA_TEST_LOG_DIR ? path.join(process.env.REPLICA_TEST_LOG_DIR, `watcher-${watchers.length}.log`) : null;
  const collect = (chunk: Buffer): void => {
    if (logFile) appendFileSync(logFile, chunk);
    logs.push(...chunk.toString().split("\n").filter(Boolean));
    if (logs.length > 2000) logs.splice(0, logs.length - 2000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const kill = async (signal: NodeJS.Signals): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  const metrics = async (): Promise<string> =>
    (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${process.env.INTERNAL_API_TOKEN ?? ""}` } })).text();
  const w: WatcherProcess = { port, child, logs, metrics, kill, stop: async () => void (await kill("SIGTERM")) };
  watchers.push(w);
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`watcher exited with ${child.exitCode}: ${logs.slice(-5).join("\n")}`);
      return (await fetch(`http://127.0.0.1:${port}/health`)).ok;
    },
    { timeoutMs: 120_000, intervalMs: 200, what: "the watcher's /health" },
  );
  return w;
}

/** Replicas the test has killed: not asked for metrics even before their exit event arrives. */
const killed = new Set<WatcherProcess>();
const alive = (w: WatcherProcess): boolean => !killed.has(w) && w.child.exitCode === null && w.child.signalCode === null;

/** From a replica's /metrics: mailboxes it holds and how many of them are connected. */
async function replicaCounts(w: WatcherProcess): Promise<{ held: number; connected: number }> {
  const text = await w.metrics();
  let held = 0;
  let connected = 0;
  for (const line of text.split("\n")) {
    const m = /^watched_mailboxes\{state="([a-z_]+)"\} (\d+)$/.exec(line);
    if (m) held += Number(m[2]);
    const c = /^watcher_connections_open (\d+)$/.exec(line);
    if (c) connected = Number(c[1]);
  }
  return { held, connected };
}

async function allCounts(): Promise<{ held: number; connected: number }[]> {
  return Promise.all(watchers.filter(alive).map(replicaCounts));
}

/** Mailbox locks held in this database: lock key -> holding backend pids. */
async function heldMailboxLocks(): Promise<number> {
  const { rows } = await sql.query<{ n: number; holders: number }>(
    `SELECT count(DISTINCT objid)::int AS n, count(*)::int AS holders FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND classid = 7230002 AND objsubid = 2
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  // An advisory lock is exclusive: one holder per key, whatever happens.
  assert.equal(rows[0]?.holders, rows[0]?.n);
  return rows[0]?.n ?? 0;
}

/** Dovecot's own view: IMAP sessions per user (doveadm who). */
async function imapSessionsPerUser(): Promise<Map<string, number>> {
  const { stdout } = await execFileAsync("doveadm", ["-c", path.join(dovecot.dir, "dovecot.conf"), "who", "-1"]);
  const counts = new Map<string, number>();
  for (const line of stdout.split("\n").slice(1)) {
    const [user, proto] = line.trim().split(/\s+/);
    if (!user || proto !== "imap") continue;
    counts.set(user, (counts.get(user) ?? 0) + 1);
  }
  return counts;
}

/** Every mailbox held by exactly one live replica, connected, and the given spread. */
async function everyMailboxWatchedOnce(): Promise<{ held: number; connected: number }[] | false> {
  const counts = await allCounts();
  if (counts.reduce((s, c) => s + c.connected, 0) !== MAILBOXES) return false;
  if (counts.reduce((s, c) => s + c.held, 0) !== MAILBOXES) return false;
  if ((await heldMailboxLocks()) !== MAILBOXES) return false;
  return counts;
}

/** APPENDs one message per user (tagged), `workers` at a time; onProgress counts finished appends. */
async function appendTo(
  names: string[],
  tag: string,
  { workers = 6, onProgress }: { workers?: number; onProgress?: (done: number) => void } = {},
): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const user = names[next++]!;
      const subject = `${tag} ${user}`;
      await dovecot.append(user, makeMessage({ subject }));
      appended.get(user)!.push(subject);
      onProgress?.(++done);
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
}

const allUsers = (): string[] => users.map((u) => u.name);

/**
 * The mailboxes whose locks this watcher process holds: its sockets (/proc/PID/fd) give the local
 * TCP ports of its database connections (/proc/net/tcp), which pg_stat_activity knows as
 * client_port of its backends, whose advisory locks pg_locks lists.
 */
async function mailboxesHeldBy(w: WatcherProcess): Promise<Set<string>> {
  const pid = w.child.pid;
  assert.ok(pid);
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m?.[1]) inodes.add(m[1]);
  }
  const ports: number[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await readFile(file, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1]?.split(":").pop();
      const remote = f[2]?.split(":").pop();
      // Only its connections to PostgreSQL: Linux reuses a local port for other destinations, so a
      // Dovecot connection of this watcher may share its port number with another one's database
      // connection.
      if (f[9] && local && remote && inodes.has(f[9]) && Number.parseInt(remote, 16) === pgPort) ports.push(Number.parseInt(local, 16));
    }
  }
  const { rows } = await sql.query<{ id: string }>(
    `SELECT m.id::text AS id
       FROM mailboxes m
       JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.classid = 7230002 AND l.objsubid = 2
                      AND l.objid = m.lock_key::oid
                      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE a.client_port = ANY($1::int[])`,
    [ports],
  );
  return new Set(rows.map((r) => r.id));
}

/** Appending in the background must not outlive a failed test as an unhandled rejection. */
function background(p: Promise<void>): Promise<void> {
  p.catch(() => {});
  return p;
}

/** On failure, the replicas' last warnings and errors say why. */
function dumpLogs(): void {
  for (const [i, w] of watchers.entries()) {
    console.log(`# --- watcher ${i} (port ${w.port}) ---`);
    const interesting = w.logs.filter((l) => !l.includes('"level":30') || /"msg":"[^"]*(replica|rebalance|handed|stopping|started)/.test(l));
    for (const line of interesting.slice(-25)) console.log(`# ${line.slice(0, 400)}`);
  }
}

/** Everything appended is stored exactly once (and only once) for its mailbox. */
async function assertStoredExactlyOnce(timeoutMs: number): Promise<void> {
  const expected = [...appended.values()].reduce((s, l) => s + l.length, 0);
  await waitFor(
    async () => {
      const { rows } = await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM ingested_messages");
      return (rows[0]?.n ?? 0) >= expected;
    },
    { timeoutMs, what: `${expected} stored messages` },
  );
  await new Promise((r) => setTimeout(r, 1500)); // a duplicate would show up in this window
  const { rows } = await sql.query<{ mailbox_id: string; subject: string; n: number }>(
    "SELECT mailbox_id, subject, count(*)::int AS n FROM ingested_messages GROUP BY mailbox_id, subject",
  );
  const stored = new Map<string, number>();
  for (const r of rows) {
    assert.equal(r.n, 1, `"${r.subject}" stored ${r.n} times`);
    const user = mailboxUser.get(r.mailbox_id);
    assert.ok(user, "a message stored for an unknown mailbox");
    assert.ok(r.subject.endsWith(` ${user}`), `"${r.subject}" stored for the wrong mailbox (${user})`);
    stored.set(r.subject, r.n);
  }
  for (const [user, subjects] of appended) {
    for (const s of subjects) assert.equal(stored.get(s), 1, `"${s}" of ${user} not stored`);
  }
  assert.equal(rows.length, expected);
}

before(async () => {
  for (const u of users) appended.set(u.name, []);
  dovecot = await startDovecot({ users, tuneForManyClients: true });
  sql = new pg.Client({ connectionString: database.url });
  await sql.connect();
  const box = getSecretBox();
  for (let i = 0; i < MAILBOXES; i += 2) {
    const tenant = await createTenant({ name: `Hotel ${i / 2}` });
    for (const [k, purpose] of (["booking", "stopsale"] as const).entries()) {
      const user = users[i + k]!;
      const row = await saveMailbox({
        tenantId: tenant.id,
        purpose,
        fields: {
          provider: "imap",
          access: "imap",
          host: dovecot.host,
          port: dovecot.imapPort,
          address: `${user.name}@hotel.test`,
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
      mailboxUser.set(row.id, user.name);
    }
  }
});

after(async () => {
  await Promise.all(watchers.map((w) => w.kill("SIGKILL")));
  await sql?.end().catch(() => {});
  await dovecot?.stop();
  await closeDb();
  await database.drop();
});

/** Runs a test body; on failure prints the replicas' last warnings before rethrowing. */
function withLogs(fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (err) {
      dumpLogs();
      console.log(`# counts now: ${JSON.stringify(await allCounts().catch(String))}, locks: ${await heldMailboxLocks().catch(String)}`);
      throw err;
    }
  };
}

describe("three watcher replicas sharing 300 mailboxes", () => {
  it("watches each mailbox exactly once, spread evenly (100 each)", withLogs(async () => {
    // One after the other (tsx start-up is CPU-bound): the first claims everything, the next ones
    // join and take their share, which is the rolling-deploy path.
    for (let i = 0; i < 3; i++) await startWatcher();
    await waitFor(
      async () => {
        const c = await everyMailboxWatchedOnce();
        return c && c.length === 3 && c.every((x) => x.held === 100);
      },
      { timeoutMs: 90_000, intervalMs: 250, what: "300 mailboxes watched once, 100 per replica" },
    );
    // Seen from PostgreSQL: three disjoint sets of 100 locks, one per process.
    // One after the other: they share one client (pg deprecates overlapping queries on a client).
    const sets: Set<string>[] = [];
    for (const w of watchers) sets.push(await mailboxesHeldBy(w));
    assert.deepEqual(
      sets.map((x) => x.size),
      [100, 100, 100],
    );
    assert.equal(new Set(sets.flatMap((x) => [...x])).size, MAILBOXES);
    const sessions = await imapSessionsPerUser();
    assert.equal(sessions.size, MAILBOXES, "every Dovecot user has an IMAP session");
    assert.ok([...sessions.values()].every((n) => n === 1), "no Dovecot user has two IMAP sessions");
    const { rows } = await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM watcher_replicas");
    assert.equal(rows[0]?.n, 3);
  }));

  it("after SIGKILL of one replica, every mailbox is watched again within 15 s and mail appended meanwhile is stored exactly once", withLogs(async () => {
    const victim = watchers.filter(alive)[1]!;
    const victimUsers = [...(await mailboxesHeldBy(victim))].map((id) => mailboxUser.get(id)!);
    assert.equal(victimUsers.length, 100);
    let killedAt = 0;
    // Some mail is mid-ingestion at the victim when it dies; the rest arrives while nobody watches.
    await appendTo(victimUsers.slice(0, 20), "in-flight", {
      workers: 4,
      onProgress: (done) => {
        if (done !== 10) return;
        killedAt = Date.now();
        killed.add(victim);
        victim.child.kill("SIGKILL");
      },
    });
    const appending = background(appendTo(victimUsers, "takeover", { workers: 4 }));
    await waitFor(() => killedAt > 0, { timeoutMs: 30_000, what: "the kill" });
    const counts = await waitFor(everyMailboxWatchedOnce, {
      timeoutMs: TAKEOVER_LIMIT_MS + 5000,
      intervalMs: 100,
      what: "all mailboxes watched again",
    });
    const takeoverMs = Date.now() - killedAt;
    console.log(`# takeover after SIGKILL: ${takeoverMs} ms`);
    assert.ok(takeoverMs < TAKEOVER_LIMIT_MS, `takeover took ${takeoverMs} ms`);
    assert.deepEqual(
      counts.map((c) => c.held).sort(),
      [150, 150],
    );
    await appending;
    await assertStoredExactlyOnce(30_000);
    await waitFor(async () => [...(await imapSessionsPerUser()).values()].every((n) => n === 1), {
      timeoutMs: 10_000,
      what: "one IMAP session per user",
    });
  }));

  it("a joining replica takes its fair share from the others", withLogs(async () => {
    await startWatcher();
    const counts = await waitFor(
      async () => {
        const c = await everyMailboxWatchedOnce();
        return c && c.every((x) => x.held === 100) ? c : false;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: "100 / 100 / 100" },
    );
    assert.equal(counts.length, 3);
    await appendTo(allUsers(), "after-join");
    await assertStoredExactlyOnce(30_000);
  }));

  it("SIGTERM hands the mailboxes over: all watched again within 15 s, nothing lost or doubled", withLogs(async () => {
    const leaving = watchers.filter(alive)[0]!;
    const leavingUsers = [...(await mailboxesHeldBy(leaving))].map((id) => mailboxUser.get(id)!);
    assert.equal(leavingUsers.length, 100);
    const appending = background(appendTo(leavingUsers, "handover", { workers: 4 }));
    const stoppedAt = Date.now();
    killed.add(leaving);
    const exited = leaving.kill("SIGTERM");
    const counts = await waitFor(everyMailboxWatchedOnce, { timeoutMs: TAKEOVER_LIMIT_MS + 5000, intervalMs: 100, what: "handover" });
    const handoverMs = Date.now() - stoppedAt;
    console.log(`# handover after SIGTERM: ${handoverMs} ms`);
    // The leaver releases everything within about a second and the others, told by NOTIFY, claim at
    // once; what remains is reconnecting 100 mailboxes at EMAIL_CONNECTION_POOL_SIZE (5) at a time.
    assert.ok(handoverMs < TAKEOVER_LIMIT_MS, `handover took ${handoverMs} ms`);
    assert.deepEqual(
      counts.map((c) => c.held).sort(),
      [150, 150],
    );
    assert.equal(await exited, 0);
    await appending;
    await assertStoredExactlyOnce(30_000);
    // The leaver deleted its row; the SIGKILLed one's row is still there but no longer counts as live.
    const { rows } = await sql.query<{ n: number; live: number }>(
      `SELECT count(*)::int AS n,
              count(*) FILTER (WHERE EXISTS (
                SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 7230003
                   AND l.objsubid = 2 AND l.objid = hashtext(r.id)::oid
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())))::int AS live
         FROM watcher_replicas r`,
    );
    assert.deepEqual(rows[0], { n: 3, live: 2 });
  }));
});
