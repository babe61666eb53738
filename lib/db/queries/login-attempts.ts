import { and, desc, eq, gt, lt, count } from "drizzle-orm";
import { getDb } from "../client";
import { loginAttempts } from "../schema";

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

/**
 * The time of the `limit`-th newest failure since `since`, or null when there are fewer. Once that
 * failure leaves the window the key is below the limit again, which gives an exact Retry-After.
 */
export async function findLimitingFailedLogin(params: {
  key: string;
  since: Date;
  limit: number;
}): Promise<Date | null> {
  const [row] = await getDb()
    .select({ attemptedAt: loginAttempts.attemptedAt })
    .from(loginAttempts)
    .where(and(eq(loginAttempts.key, params.key), gt(loginAttempts.attemptedAt, params.since)))
    .orderBy(desc(loginAttempts.attemptedAt))
    .offset(Math.max(params.limit - 1, 0))
    .limit(1);
  return row?.attemptedAt ?? null;
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
