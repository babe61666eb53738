/**
 * Idle job workers are woken by NOTIFY at commit, not by polling (issue 19). The poll is set to
 * 60 s here, so a job that runs within the 15 s bounds below was run by the wake-up: 15 s is a
 * correctness bound ("before the poll could have run"), not a speed measurement.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "drizzle-orm";
import pg from "pg";
import pino from "pino";
import { useFreshDatabase } from "@/tests/harness/database";
import { waitFor } from "@/tests/harness/ports";

process.env.JOBS_POLL_MS = "60000";
const database = await useFreshDatabase();
const { getDb, closeDb } = await import("@/lib/db/client");
const { JOBS_CHANNEL, runInTransaction } = await import("@/lib/db/queries/job-queue");
const { startJobQueue, stopJobQueue, sendJob } = await import("@/lib/jobs/job-queue");
type Spec = import("@/lib/jobs/job-queue").JobQueueSpec<{ marker: string }>;

const WAKE_BOUND_MS = 15_000;
const ran: string[] = [];
const spec: Spec = {
  name: "test-wakeup",
  policy: { retryLimit: 0, retryDelaySeconds: 1, retryBackoff: false, expireInSeconds: 30 },
  workers: 2,
  handler: async (jobs) => {
    for (const job of jobs) ran.push(job.data.marker);
  },
};

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  await waitFor(check, { timeoutMs, intervalMs: 50, what });
}

/** The backends LISTENing on the jobs channel (pg_stat_activity shows a session's last statement). */
async function listenerPids(): Promise<number[]> {
  const rows = await getDb().execute<{ pid: number }>(
    sql`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = ${`LISTEN ${JOBS_CHANNEL}`}`,
  );
  return rows.rows.map((r) => Number(r.pid));
}

before(async () => {
  await startJobQueue({ specs: [spec], log: pino({ level: "silent" }) });
  // Let both workers finish their first (empty) fetch: from here on they sleep a 60 s poll.
  await new Promise((r) => setTimeout(r, 1000));
});

after(async () => {
  await stopJobQueue();
  await closeDb();
  await database.drop();
});

describe("job queue wake-up", () => {
  it("runs a job sent in a transaction at its commit, long before the next poll", async () => {
    await runInTransaction(async (tx) => {
      await sendJob({ spec, data: { marker: "in-tx" }, tx });
      // Not before the commit: the notification is part of the transaction.
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(ran, []);
    });
    await waitUntil(() => ran.includes("in-tx"), WAKE_BOUND_MS, "the job sent in a transaction");
    await sendJob({ spec, data: { marker: "no-tx" } });
    await waitUntil(() => ran.includes("no-tx"), WAKE_BOUND_MS, "the job sent outside a transaction");
    assert.deepEqual(ran, ["in-tx", "no-tx"]);
  });

  it("runs a job sent while the LISTEN connection was down once it listens again, and listens again", async () => {
    ran.length = 0;
    const [pid, ...others] = await listenerPids();
    assert.ok(pid, "the job queue LISTENs on its own connection");
    assert.deepEqual(others, []);
    await getDb().execute(sql`SELECT pg_terminate_backend(${pid}::int)`);
    await waitUntil(async () => (await listenerPids()).length === 0, 5_000, "the listener's backend to exit");

    await sendJob({ spec, data: { marker: "while-down" } });
    // Nobody heard that notification: the listener comes back only after its 5 s retry delay.
    assert.deepEqual(await listenerPids(), []);
    await waitUntil(() => ran.includes("while-down"), WAKE_BOUND_MS, "the job sent while nobody listened");

    const back = await listenerPids();
    assert.equal(back.length, 1);
    assert.notEqual(back[0], pid);
    await sendJob({ spec, data: { marker: "after-relisten" } });
    await waitUntil(() => ran.includes("after-relisten"), WAKE_BOUND_MS, "the job sent after re-listening");
    assert.deepEqual(ran, ["while-down", "after-relisten"]);
  });

  it("announces no job scheduled for later and does not run it before its start", async () => {
    ran.length = 0;
    const heard: string[] = [];
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    client.on("notification", (msg) => {
      if (msg.channel === JOBS_CHANNEL) heard.push(msg.payload ?? "");
    });
    await client.query(`LISTEN ${JOBS_CHANNEL}`);
    try {
      const startAfter = new Date(Date.now() + 4_000);
      await sendJob({ spec, data: { marker: "later" }, options: { startAfter } });
      await sendJob({ spec, data: { marker: "now" } });
      await waitUntil(() => ran.includes("now"), WAKE_BOUND_MS, "the job due now");
      // Only the job due now was announced (the LISTEN session sees both sends in order).
      await waitUntil(() => heard.length >= 1, 5_000, "the notification of the job due now");
      assert.ok(Date.now() < startAfter.getTime(), "the check below runs before the delayed job's start");
      assert.deepEqual(ran, ["now"]);
      const state = await getDb().execute<{ state: string }>(
        sql`SELECT state::text FROM pgboss.job WHERE name = ${spec.name} AND data->>'marker' = 'later'`,
      );
      assert.deepEqual(state.rows, [{ state: "created" }]);

      // Its start is kept by the running process's own timer, not by the 60 s poll.
      await waitUntil(() => ran.includes("later"), startAfter.getTime() - Date.now() + WAKE_BOUND_MS, "the delayed job");
      assert.deepEqual(heard, [spec.name]);
      assert.deepEqual(ran, ["now", "later"]);
      // Every job completed (pg-boss does not await that statement: it must not race the drop).
      const open = async (): Promise<number> =>
        Number((await getDb().execute<{ n: string }>(sql`SELECT count(*) AS n FROM pgboss.job WHERE name = ${spec.name} AND state <> 'completed'`)).rows[0]!.n);
      await waitUntil(async () => (await open()) === 0, 5_000, "every job to be completed");
    } finally {
      await client.end();
    }
  });
});
