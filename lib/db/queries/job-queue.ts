import type pg from "pg";
import { getDb, getPool, type Database } from "@/lib/db/client";

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
