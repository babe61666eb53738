import { and, desc, eq, gt, inArray, lt, count, sql } from "drizzle-orm";
import { getDb } from "@/lib/db/client";
import { loginAttempts } from "@/lib/db/schema";

/** Advisory lock class for login limiting (migrations 7230001, mailbox locks 7230002, replica presence 7230003). */
const LOGIN_LOCK_CLASS = 7230004;


export type LoginAdmission =
  | { admitted: true; attemptIds: Map<string, number>; counts: Map<string, number> }
  | { admitted: false; retryAt: Date };

/**
 * Counts and records one login attempt against every key, atomically: the keys' transaction locks
 * are taken first (in key order, so two attempts never wait on each other crosswise), then one
 * statement counts each key's attempts in the window and, only if every limited key is below its
 * limit, records the attempt for all of them. The row is written before the password is checked,
 * so parallel guesses see each other; a success deletes it again. `limit: null` keys are recorded
 * and counted but never refuse (the caller slows down instead). Two statements inside the lock keep
 * the time it is held, and so the queue of a flood on one key, short.
 */
export async function admitLoginAttempt(params: {
  keys: { key: string; limit: number | null }[];
  since: Date;
  windowMs: number;
}): Promise<LoginAdmission> {
  const keys = [...params.keys].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const names = keys.map((k) => k.key);
  const limits = keys.map((k) => k.limit);
  return getDb().transaction(async (tx) => {
    // A statement's snapshot is taken when it starts: the count must be a later statement than the lock.
    await tx.execute(
      sql`SELECT pg_advisory_xact_lock(${LOGIN_LOCK_CLASS}, hashtext(s.key)) FROM (SELECT key FROM unnest(${sql.param(names)}::text[]) AS key ORDER BY key) s`,
    );
    const { rows } = await tx.execute<{ key: string; n: string | number; lim: number | null; id: string | number | null }>(sql`
      WITH k AS (SELECT * FROM unnest(${sql.param(names)}::text[], ${sql.param(limits)}::int[]) AS t(key, lim)),
      c AS (
        SELECT k.key, k.lim,
          (SELECT count(*) FROM ${loginAttempts} a WHERE a.key = k.key AND a.attempted_at > ${params.since.toISOString()}::timestamptz) AS n
        FROM k
      ),
      ins AS (
        INSERT INTO ${loginAttempts} (key)
        SELECT key FROM k WHERE NOT EXISTS (SELECT 1 FROM c WHERE c.lim IS NOT NULL AND c.n >= c.lim)
        RETURNING id, key
      )
      SELECT c.key, c.n, c.lim, ins.id FROM c LEFT JOIN ins ON ins.key = c.key`);
    const counts = new Map(rows.map((r) => [r.key, Number(r.n)]));
    const blocked = rows.filter((r) => r.lim !== null && Number(r.n) >= r.lim);
    if (blocked.length === 0) {
      return { admitted: true, attemptIds: new Map(rows.map((r) => [r.key, Number(r.id)])), counts };
    }
    // The limit-th newest attempt leaving the window brings the key below its limit again.
    let retryAt = 0;
    for (const { key, lim } of blocked) {
      const [limiting] = await tx
        .select({ attemptedAt: loginAttempts.attemptedAt })
        .from(loginAttempts)
        .where(and(eq(loginAttempts.key, key), gt(loginAttempts.attemptedAt, params.since)))
        .orderBy(desc(loginAttempts.attemptedAt))
        .offset(Math.max((lim ?? 1) - 1, 0))
        .limit(1);
      retryAt = Math.max(retryAt, (limiting?.attemptedAt.getTime() ?? Date.now()) + params.windowMs);
    }
    return { admitted: false, retryAt: new Date(retryAt) };
  });
}

/** Forgets recorded attempts by id (one success's own rows). */
export async function deleteLoginAttempts(params: { ids: number[] }): Promise<void> {
  if (params.ids.length === 0) return;
  await getDb().delete(loginAttempts).where(inArray(loginAttempts.id, params.ids));
}

export async function recordFailedLogin(params: { key: string }): Promise<void> {
  await getDb().insert(loginAttempts).values({ key: params.key });
}

export async function countRecentFailedLogins(params: { key: string; since: Date }): Promise<number> {
  const [row] = await getDb()
    .select({ value: count() })
    .from(loginAttempts)
    .where(and(eq(loginAttempts.key, params.key), gt(loginAttempts.attemptedAt, params.since)));
  return row?.value ?? 0;
}

export async function clearFailedLogins(params: { key: string }): Promise<void> {
  await getDb().delete(loginAttempts).where(eq(loginAttempts.key, params.key));
}

/** Housekeeping: rows older than every rate-limit window only take space. */
export async function deleteOldFailedLogins(params: { before: Date }): Promise<number> {
  const rows = await getDb()
    .delete(loginAttempts)
    .where(lt(loginAttempts.attemptedAt, params.before))
    .returning({ id: loginAttempts.id });
  return rows.length;
}
