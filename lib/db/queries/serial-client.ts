import type pg from "pg";

export type SerialQuery = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>;

/**
 * One statement at a time on a dedicated connection (lock and presence sessions are used by
 * overlapping async callers). pg queues overlapping calls itself but deprecates doing so (pg@9
 * drops it), and a queue of our own keeps a failed statement from affecting the next one.
 */
export function serializeQueries(client: pg.PoolClient): SerialQuery {
  let tail: Promise<unknown> = Promise.resolve();
  return <R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> => {
    const run = tail.catch(() => {}).then(() => client.query<R>(text, values));
    tail = run;
    return run;
  };
}
