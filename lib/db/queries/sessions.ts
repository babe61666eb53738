import { and, eq, gt, lt, sql } from "drizzle-orm";
import { getDb } from "@/lib/db/client";
import { sessions, tenants, users, type Session, type Tenant, type User } from "@/lib/db/schema";

export type SessionWithUser = {
  session: Session;
  user: Pick<User, "id" | "email" | "role" | "tenantId">;
  tenant: Pick<Tenant, "id" | "name">;
};

/** `id` is the SHA-256 of the cookie token, never the token itself. */
export async function createSession(params: { id: string; userId: string; expiresAt: Date }): Promise<Session> {
  const [row] = await getDb()
    .insert(sessions)
    .values({ id: params.id, userId: params.userId, expiresAt: params.expiresAt })
    .returning();
  if (!row) throw new Error("insert into sessions returned no row");
  return row;
}

/**
 * The session, its user and tenant, or null when the session is unknown, expired, or belongs to a
 * deactivated tenant: deactivation must end existing logins, not only prevent new ones.
 */
export async function findSessionWithUser(params: { sessionId: string }): Promise<SessionWithUser | null> {
  const [row] = await getDb()
    .select({
      session: sessions,
      user: { id: users.id, email: users.email, role: users.role, tenantId: users.tenantId },
      tenant: { id: tenants.id, name: tenants.name },
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .innerJoin(tenants, eq(tenants.id, users.tenantId))
    .where(and(eq(sessions.id, params.sessionId), gt(sessions.expiresAt, sql`now()`), eq(tenants.isActive, true)))
    .limit(1);
  return row ?? null;
}

/** Sliding expiry; only moves the expiry forward so a concurrent request can't shorten it. */
export async function extendSession(params: { sessionId: string; expiresAt: Date }): Promise<void> {
  await getDb()
    .update(sessions)
    .set({ expiresAt: params.expiresAt })
    .where(and(eq(sessions.id, params.sessionId), lt(sessions.expiresAt, params.expiresAt)));
}

export async function deleteSession(params: { sessionId: string }): Promise<void> {
  await getDb().delete(sessions).where(eq(sessions.id, params.sessionId));
}

export async function deleteExpiredSessions(): Promise<number> {
  const rows = await getDb()
    .delete(sessions)
    .where(lt(sessions.expiresAt, sql`now()`))
    .returning({ id: sessions.id });
  return rows.length;
}
