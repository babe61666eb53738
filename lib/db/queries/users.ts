import { eq, sql } from "drizzle-orm";
import { AppError, notFound } from "@/lib/errors";
import { getDb } from "@/lib/db/client";
import { isForeignKeyViolation, isUniqueViolation } from "@/lib/db/pg-errors";
import { tenants, users, type Tenant, type User } from "@/lib/db/schema";

export type UserWithTenant = User & { tenant: Pick<Tenant, "id" | "name" | "isActive"> };

/** Case-insensitive, matching the unique index on lower(email). */
export async function findUserByEmail(params: { email: string }): Promise<UserWithTenant | null> {
  const [row] = await getDb()
    .select({ user: users, tenant: { id: tenants.id, name: tenants.name, isActive: tenants.isActive } })
    .from(users)
    .innerJoin(tenants, eq(tenants.id, users.tenantId))
    .where(eq(sql`lower(${users.email})`, params.email.trim().toLowerCase()))
    .limit(1);
  return row ? { ...row.user, tenant: row.tenant } : null;
}

export async function createUser(params: {
  tenantId: string;
  email: string;
  passwordHash: string;
  role: User["role"];
}): Promise<User> {
  try {
    const [row] = await getDb()
      .insert(users)
      .values({
        tenantId: params.tenantId,
        email: params.email.trim(),
        passwordHash: params.passwordHash,
        role: params.role,
      })
      .returning();
    if (!row) throw new Error("insert into users returned no row");
    return row;
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new AppError(409, "email_taken", "A user with this email already exists.");
    }
    if (isForeignKeyViolation(error)) throw notFound("Tenant");
    throw error;
  }
}

export type AlertPreferences = { locale: string; alertEmail: boolean };

/** Issue 15: the user's alert-email choice and the language their alert emails are written in. */
export async function getAlertPreferences({ userId }: { userId: string }): Promise<AlertPreferences | null> {
  const [row] = await getDb().select({ locale: users.locale, alertEmail: users.alertEmail }).from(users).where(eq(users.id, userId));
  return row ?? null;
}

export async function updateAlertPreferences({ userId, patch }: { userId: string; patch: Partial<AlertPreferences> }): Promise<AlertPreferences | null> {
  if (Object.keys(patch).length === 0) return getAlertPreferences({ userId });
  const [row] = await getDb()
    .update(users)
    .set(patch)
    .where(eq(users.id, userId))
    .returning({ locale: users.locale, alertEmail: users.alertEmail });
  return row ?? null;
}
