import { sql } from "drizzle-orm";
import type pg from "pg";
import { getDb, getPool, type Database } from "@/lib/db/client";

/**
 * Idle job workers sleep on this channel instead of polling every second (issue 19): a sender
 * announces the queue that has new work, the running process wakes that queue's workers.
 */
export const JOBS_CHANNEL = "jobs_ready";

/** What pg-boss calls to run SQL (its `Db` interface): the app's own pool or one transaction's client. */
export type SqlExecutor = { executeSql: (text: string, values?: unknown[]) => Promise<{ rows: unknown[] }> };

/** A transaction from getDb().transaction(): the handle the app's queries run their writes on. */
export type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];

/**
 * pg-boss runs on the app's pool (one set of connections, the same timeouts) instead of opening
 * a second pool of its own.
 */
export function poolExecutor(): SqlExecutor {
  return { executeSql: (text, values) => getPool().query(text, values) };
}

/**
 * SQL on the connection that runs `tx`: a job sent through it is inserted inside that transaction,
 * so it exists exactly when the transaction's rows commit (and never after a rollback). drizzle's
 * node-postgres transaction keeps its pg client on `session.client`; checked so a drizzle upgrade
 * that moves it fails loudly instead of sending outside the transaction.
 */
export function transactionExecutor(tx: Transaction): SqlExecutor {
  const client = (tx as unknown as { session?: { client?: pg.PoolClient } }).session?.client;
  if (!client || typeof client.query !== "function" || "totalCount" in client) {
    throw new Error("The drizzle transaction does not expose its pg client: jobs cannot join it.");
  }
  return { executeSql: (text, values) => client.query(text, values) };
}

/** Runs `work` in one transaction on the app's database. */
export async function runInTransaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
  return getDb().transaction(work);
}

/**
 * Announces that `queue` has a job to run now. Inside `tx` the notification is delivered at
 * commit, together with the job row (never for a rolled-back job, never before the row is visible).
 */
export async function notifyJobsReady({ queue, tx }: { queue: string; tx?: Transaction }): Promise<void> {
  await (tx ?? getDb()).execute(sql`SELECT pg_notify(${JOBS_CHANNEL}, ${queue})`);
}

/**
 * LISTENs on a dedicated connection (a pooled one would lose the subscription on release).
 * `onLost` is called once when that connection fails; the caller listens again.
 */
export async function listenForJobs({
  onQueue,
  onLost,
}: {
  onQueue: (queue: string) => void;
  onLost: (err: Error) => void;
}): Promise<{ close: () => Promise<void> }> {
  const client = await getPool().connect();
  let lost = false;
  const fail = (err: Error): void => {
    if (lost) return;
    lost = true;
    client.removeAllListeners("notification");
    client.release(err); // destroyed, not returned to the pool
    onLost(err);
  };
  client.on("notification", (msg) => {
    if (msg.channel === JOBS_CHANNEL && msg.payload) onQueue(msg.payload);
  });
  client.on("error", fail);
  client.on("end", () => fail(new Error("The job LISTEN connection ended.")));
  try {
    await client.query(`LISTEN ${JOBS_CHANNEL}`);
  } catch (err) {
    lost = true;
    client.removeAllListeners();
    client.on("error", () => {});
    client.release(true);
    throw err;
  }
  return {
    close: async () => {
      if (lost) return;
      lost = true;
      client.removeAllListeners();
      // Swallow a late error of the closing connection instead of an unhandled 'error' event.
      client.on("error", () => {});
      await client.query(`UNLISTEN ${JOBS_CHANNEL}`).catch(() => {});
      client.release(true);
    },
  };
}
