/**
 * The job queue (lib/jobs, pg-boss) against a real PostgreSQL: a job sent inside a transaction
 * exists exactly when that transaction commits. Rolled back: it never runs. Committed: it runs once.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { sql } from "drizzle-orm";
import pino from "pino";
import { useFreshDatabase } from "@/tests/harness/database";

process.env.JOBS_POLL_MS = "500";
process.env.JOBS_MAINTENANCE_SECONDS = "1";
const database = await useFreshDatabase();
const { getDb, closeDb } = await import("@/lib/db/client");
const { runInTransaction } = await import("@/lib/db/queries/job-queue");
const { startJobQueue, stopJobQueue, sendJob, sendJobs, JobQueueError } = await import("@/lib/jobs/job-queue");
type Spec = import("@/lib/jobs/job-queue").JobQueueSpec<{ marker: string }>;

const ran: string[] = [];
const spec: Spec = {
  name: "test-transactional",
  policy: { retryLimit: 2, retryDelaySeconds: 1, retryBackoff: false, expireInSeconds: 30 },
  batchSize: 5,
  handler: async (jobs) => {
    for (const job of jobs) ran.push(job.data.marker);
  },
};

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}

after(async () => {
  await stopJobQueue();
  await closeDb();
  await database.drop();
});

describe("job queue", () => {
  it("runs a job sent in a committed transaction once and never one from a rolled-back transaction", async () => {
    await startJobQueue({ specs: [spec], log: pino({ level: "silent" }) });
    const tenantCount = async (name: string): Promise<number> =>
      Number((await getDb().execute<{ n: string }>(sql`SELECT count(*) AS n FROM tenants WHERE name = ${name}`)).rows[0]!.n);

    await assert.rejects(
      runInTransaction(async (tx) => {
        await tx.execute(sql`INSERT INTO tenants (name) VALUES ('rolled-back')`);
        await sendJob({ spec, data: { marker: "rolled-back" }, tx });
        await sendJobs({ spec, jobs: [{ data: { marker: "rolled-back-batch" } }], tx });
        throw new Error("abort");
      }),
      /abort/,
    );
    let visibleBeforeCommit = -1;
    await runInTransaction(async (tx) => {
      await tx.execute(sql`INSERT INTO tenants (name) VALUES ('committed')`);
      await sendJob({ spec, data: { marker: "committed" }, tx });
      await sendJobs({ spec, jobs: [{ data: { marker: "committed-batch" } }], tx });
      // Another connection cannot see the job before the commit: it is part of this transaction.
      const other = await getDb().execute<{ n: string }>(
        sql`SELECT count(*) AS n FROM pgboss.job WHERE name = ${spec.name} AND data->>'marker' LIKE 'committed%'`,
      );
      visibleBeforeCommit = Number(other.rows[0]!.n);
    });
    assert.equal(visibleBeforeCommit, 0);
    assert.equal(await tenantCount("rolled-back"), 0);
    assert.equal(await tenantCount("committed"), 1);

    await waitUntil(() => ran.includes("committed") && ran.includes("committed-batch"), 20_000);
    // A few more polls and a maintenance pass: nothing else may turn up.
    await new Promise((r) => setTimeout(r, 2500));
    assert.deepEqual([...ran].sort(), ["committed", "committed-batch"]);
    const stored = await getDb().execute<{ marker: string; state: string }>(
      sql`SELECT data->>'marker' AS marker, state::text FROM pgboss.job WHERE name = ${spec.name} ORDER BY 1`,
    );
    assert.deepEqual(
      stored.rows.map((r) => [r.marker, r.state]),
      [
        ["committed", "completed"],
        ["committed-batch", "completed"],
      ],
    );
  });

  it("throws when pg-boss queues nothing instead of losing the job silently", async () => {
    const id = "7d7f4e8a-5a43-4c1e-9d55-0d8f0a8f6d11";
    await sendJob({ spec, data: { marker: "dup-1" }, options: { id } });
    // The same job id again: pg-boss's insert does nothing and answers null.
    await assert.rejects(sendJob({ spec, data: { marker: "dup-2" }, options: { id } }), JobQueueError);
    // The first one still runs (and completes before the suite stops the queue: pg-boss does not
    // await a job's completion statement, which would otherwise race the database drop).
    const state = async (): Promise<string | undefined> =>
      (await getDb().execute<{ state: string }>(sql`SELECT state::text FROM pgboss.job WHERE id = ${id}`)).rows[0]?.state;
    await waitUntil(async () => (await state()) === "completed", 20_000);
    assert.deepEqual(ran.filter((m) => m.startsWith("dup")), ["dup-1"]);
  });
});
