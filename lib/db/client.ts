import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import { getEnv } from "@/lib/env";
import * as schema from "./schema";

export type Database = NodePgDatabase<typeof schema>;

let pool: pg.Pool | undefined;
let database: Database | undefined;

/** The pool behind the data layer. Only lib/db modules import this file. */
export function getPool(): pg.Pool {
  if (!pool) {
    const env = getEnv();
    const statementMs = env.DATABASE_STATEMENT_TIMEOUT_SECONDS * 1000;
    pool = new pg.Pool({
      connectionString: env.DATABASE_URL,
      max: env.DB_POOL_SIZE,
      idleTimeoutMillis: 30_000,
      // A hung or unreachable server must fail a request or batch, not stall it forever: waiting
      // for a pooled (or new) connection is bounded, PostgreSQL cancels a statement that runs too
      // long, and the client gives up a little later in case the server can't even do that.
      connectionTimeoutMillis: env.DATABASE_CONNECT_TIMEOUT_SECONDS * 1000,
      statement_timeout: statementMs,
      query_timeout: statementMs + 5_000,
      // Migrations use their own client (lib/db/migrate.ts) without these limits. The watcher's
      // dedicated lock/presence sessions (mailbox-locks.ts, watcher-replicas.ts) only run short
      // statements (pg_try_advisory_lock, a lock on a fresh random id, heartbeats): session locks
      // are held between statements, where no timeout applies.
    });
    // An idle client losing its server must not crash the process; the next query reconnects.
    pool.on("error", () => {});
  }
  return pool;
}

export function getDb(): Database {
  database ??= drizzle(getPool(), { schema });
  return database;
}

export async function closeDb(): Promise<void> {
  const p = pool;
  pool = undefined;
  database = undefined;
  if (p) await p.end();
}
