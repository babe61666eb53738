import { and, desc, eq, gt, inArray, lt, count, sql } from "drizzle-orm";
import { getDb } from "../client";
import { loginAttempts } from "../schema";

/** Advisory lock class for login limiting (migrations 7230001, mailbox locks 7230002, replica presence 7230003). */
const LOGIN_LOCK_CLASS = 7230004;


export type LoginAdmission =
  | { admitted: true; attemptIds: Map<string, number>; counts: Map<string, number> }
  | { admitted: false; retryAt: Date };

/**
 * Counts and records one login attempt against every key, atomically: under a per-key transaction
 * lock (taken in key order, so two attempts never wait on each other crosswise) each key's attempts
 * in the window are counted, and only if every limited key is below its limit is the attempt
 * recorded for all of them. The row is written before the password is checked, so parallel
 * guesses see each other; a success deletes it again. `limit: null` keys are recorded and counted
 * but never refuse (the caller slows down instead).
 */
export async function admitLoginAttempt(params: {
  keys: { key: string; limit: number | null }[];
  since: Date;
  windowMs: number;
}): Promise<LoginAdmission> {
  const keys = [...params.keys].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return getDb().transaction(async (tx) => {
    const counts = new Map<string, number>();
    let retryAt = 0;
    for (const { key, limit } of keys) {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${LOGIN_LOCK_CLASS}, hashtext(${key}))`);
      const [row] = await tx
        .select({ value: count() })
        .from(loginAttempts)
        .where(and(eq(loginAttempts.key, key), gt(loginAttempts.attemptedAt, params.since)));
      const n = row?.value ?? 0;
      counts.set(key, n);
      if (limit === null || n < limit) continue;
      // The limit-th newest attempt leaving the window brings the key below its limit again.
      const [limiting] = await tx
        .select({ attemptedAt: loginAttempts.attemptedAt })
        .from(loginAttempts)
        .where(and(eq(loginAttempts.key, key), gt(loginAttempts.attemptedAt, params.since)))
        .orderBy(desc(loginAttempts.attemptedAt))
        .offset(Math.max(limit - 1, 0))
        .limit(1);
      retryAt = Math.max(retryAt, (limiting?.attemptedAt.getTime() ?? Date.now()) + params.windowMs);
    }
    if (retryAt > 0) return { admitted: false, retryAt: new Date(retryAt) };
    const rows = await tx
      .insert(loginAttempts)
      .values(keys.map(({ key }) => ({ key })))
      .returning({ id: loginAttempts.id, key: loginAttempts.key });
    return { admitted: true, attemptIds: new Map(rows.map((r) => [r.key, r.id])), counts };
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
