import { count, eq, sql } from "drizzle-orm";
import { AppError } from "@/lib/errors";
import { getDb } from "@/lib/db/client";
import { isUniqueViolation } from "@/lib/db/pg-errors";
import { tenants, users, type Tenant, type User } from "@/lib/db/schema";

export type UserRole = User["role"];

export async function createTenant(params: { name: string }): Promise<Tenant> {
  const [row] = await getDb().insert(tenants).values({ name: params.name }).returning();
  if (!row) throw new Error("insert into tenants returned no row");
  return row;
}

/**
 * Tenant and its first admin in one transaction: a duplicate admin email must not leave behind a
 * tenant nobody can log in to.
 */
export async function createTenantWithAdmin(params: {
  name: string;
  email: string;
  passwordHash: string;
}): Promise<{ tenant: Tenant; user: User }> {
  try {
    return await getDb().transaction(async (tx) => {
      const [tenant] = await tx.insert(tenants).values({ name: params.name }).returning();
      if (!tenant) throw new Error("insert into tenants returned no row");
      const [user] = await tx
        .insert(users)
        .values({ tenantId: tenant.id, email: params.email.trim(), passwordHash: params.passwordHash, role: "admin" })
        .returning();
      if (!user) throw new Error("insert into users returned no row");
      return { tenant, user };
    });
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new AppError(409, "email_taken", "A user with this email already exists.");
    }
    throw error;
  }
}

export async function getTenant(params: { tenantId: string }): Promise<Tenant | null> {
  const [row] = await getDb().select().from(tenants).where(eq(tenants.id, params.tenantId)).limit(1);
  return row ?? null;
}

export async function countTenants(): Promise<number> {
  const [row] = await getDb().select({ value: count() }).from(tenants);
  return row?.value ?? 0;
}

/**
 * Deactivates a tenant and tells the watchers in the same transaction: NOTIFY is delivered on
 * commit, so a watcher reloading on the notification already sees is_active = false.
 * Returns null when the tenant does not exist.
 */
export async function deactivateTenant(params: { tenantId: string }): Promise<Tenant | null> {
  return getDb().transaction(async (tx) => {
    const [row] = await tx
      .update(tenants)
      .set({ isActive: false })
      .where(eq(tenants.id, params.tenantId))
      .returning();
    if (!row) return null;
    await tx.execute(
      sql`SELECT pg_notify('mailbox_changed', json_build_object('tenant_id', ${row.id}::uuid, 'op', 'tenant')::text)`,
    );
    return row;
  });
}
