import { and, eq, inArray, ne, sql, type SQL } from "drizzle-orm";
import { getDb } from "@/lib/db/client";
import { notifyChange } from "./mailbox-changes";
import {
  mailboxes,
  tenants,
  type Mailbox,
  type MailboxPurpose,
  type NewMailbox,
  type SyncState,
} from "@/lib/db/schema";

export async function getMailbox({
  tenantId,
  purpose,
}: {
  tenantId: string;
  purpose: MailboxPurpose;
}): Promise<Mailbox | null> {
  const [row] = await getDb()
    .select()
    .from(mailboxes)
    .where(and(eq(mailboxes.tenantId, tenantId), eq(mailboxes.purpose, purpose)));
  return row ?? null;
}

export async function listTenantMailboxes({ tenantId }: { tenantId: string }): Promise<Mailbox[]> {
  return getDb().select().from(mailboxes).where(eq(mailboxes.tenantId, tenantId));
}

export async function getMailboxById({ mailboxId }: { mailboxId: string }): Promise<Mailbox | null> {
  const [row] = await getDb().select().from(mailboxes).where(eq(mailboxes.id, mailboxId));
  return row ?? null;
}

/**
 * The one "watchable mailbox" filter: enabled, of an active tenant. Every query that decides what
 * a watcher runs (or a push may wake) joins tenants and uses this, so the rule lives in one place.
 */
export function isWatchable(): SQL {
  // Forwarding mailboxes (issue 16) have nothing to connect to: the inbound SMTP server receives their mail.
  return and(eq(tenants.isActive, true), eq(mailboxes.enabled, true), ne(mailboxes.access, "forwarding")) as SQL;
}

export async function getWatchableMailbox({ mailboxId }: { mailboxId: string }): Promise<Mailbox | null> {
  const [row] = await getDb()
    .select({ mailbox: mailboxes })
    .from(mailboxes)
    .innerJoin(tenants, eq(tenants.id, mailboxes.tenantId))
    .where(and(eq(mailboxes.id, mailboxId), isWatchable()));
  return row?.mailbox ?? null;
}

type MailboxFields = Omit<NewMailbox, "id" | "tenantId" | "purpose" | "createdAt" | "updatedAt" | "configVersion">;

/**
 * Creates or updates the tenant's mailbox of this purpose and tells the watcher in the same
 * transaction. A settings change resets health, since the old error may no longer apply.
 */
export async function saveMailbox({
  tenantId,
  purpose,
  fields,
}: {
  tenantId: string;
  purpose: MailboxPurpose;
  fields: MailboxFields;
}): Promise<Mailbox> {
  return getDb().transaction(async (tx) => {
    const [row] = await tx
      .insert(mailboxes)
      .values({ ...fields, tenantId, purpose, status: fields.status ?? "connecting" })
      .onConflictDoUpdate({
        target: [mailboxes.tenantId, mailboxes.purpose],
        set: {
          ...fields,
          // A forwarding mailbox has nothing to connect: it says "connected" from the start.
          status: fields.status ?? "connecting",
          statusChangedAt: sql`now()`,
          lastError: null,
          lastErrorCode: null,
          configVersion: sql`${mailboxes.configVersion} + 1`,
          updatedAt: sql`now()`,
        },
      })
      .returning();
    if (!row) throw new Error("mailbox upsert returned no row");
    await notifyChange({ op: "upsert", mailbox_id: row.id, tenant_id: tenantId }, tx);
    return row;
  });
}

export async function deleteMailbox({
  tenantId,
  purpose,
}: {
  tenantId: string;
  purpose: MailboxPurpose;
}): Promise<boolean> {
  return getDb().transaction(async (tx) => {
    const [row] = await tx
      .delete(mailboxes)
      .where(and(eq(mailboxes.tenantId, tenantId), eq(mailboxes.purpose, purpose)))
      .returning({ id: mailboxes.id });
    if (!row) return false;
    await notifyChange({ op: "delete", mailbox_id: row.id, tenant_id: tenantId }, tx);
    return true;
  });
}

/** Partial update of OAuth or other columns by the web process, announced to the watcher. */
export async function updateMailboxAndNotify({
  mailboxId,
  tenantId,
  fields,
}: {
  mailboxId: string;
  tenantId: string;
  fields: Partial<MailboxFields>;
}): Promise<Mailbox | null> {
  return getDb().transaction(async (tx) => {
    const [row] = await tx
      .update(mailboxes)
      .set({ ...fields, configVersion: sql`${mailboxes.configVersion} + 1`, updatedAt: sql`now()` })
      .where(and(eq(mailboxes.id, mailboxId), eq(mailboxes.tenantId, tenantId)))
      .returning();
    if (!row) return null;
    await notifyChange({ op: "upsert", mailbox_id: row.id, tenant_id: tenantId }, tx);
    return row;
  });
}

/**
 * "Try again" (issue 15): a paused or failing mailbox is reconnected at once with a fresh count of
 * sign-in failures (they are counted from updated_at). Returns null when the tenant has no such mailbox.
 */
export async function resumeMailbox({ tenantId, purpose }: { tenantId: string; purpose: MailboxPurpose }): Promise<Mailbox | null> {
  return getDb().transaction(async (tx) => {
    const [row] = await tx
      .update(mailboxes)
      .set({
        status: "connecting",
        statusChangedAt: sql`now()`,
        lastError: null,
        lastErrorCode: null,
        configVersion: sql`${mailboxes.configVersion} + 1`,
        updatedAt: sql`now()`,
      })
      .where(and(eq(mailboxes.tenantId, tenantId), eq(mailboxes.purpose, purpose)))
      .returning();
    if (!row) return null;
    await notifyChange({ op: "upsert", mailbox_id: row.id, tenant_id: tenantId }, tx);
    return row;
  });
}

export async function recordMailboxSync({
  mailboxId,
  backlog,
}: {
  mailboxId: string;
  backlog: number;
}): Promise<void> {
  await getDb()
    .update(mailboxes)
    .set({ lastSuccessAt: sql`now()`, backlog })
    .where(eq(mailboxes.id, mailboxId));
}

export async function updateSyncState({
  mailboxId,
  patch,
}: {
  mailboxId: string;
  patch: Partial<SyncState>;
}): Promise<void> {
  await getDb()
    .update(mailboxes)
    .set({ syncState: sql`${mailboxes.syncState} || ${JSON.stringify(patch)}::jsonb` })
    .where(eq(mailboxes.id, mailboxId));
}

/** The provider cursors as stored now: a reconnect must not start from the ones loaded hours ago. */
export async function getMailboxSyncState({ mailboxId }: { mailboxId: string }): Promise<SyncState | null> {
  const [row] = await getDb().select({ syncState: mailboxes.syncState }).from(mailboxes).where(eq(mailboxes.id, mailboxId));
  return row?.syncState ?? null;
}

/** Enabled Gmail API mailboxes of active tenants connected as this Google account. */
export async function findGmailPushMailboxes({ emailAddress }: { emailAddress: string }): Promise<{ id: string }[]> {
  return getDb()
    .select({ id: mailboxes.id })
    .from(mailboxes)
    .innerJoin(tenants, eq(tenants.id, mailboxes.tenantId))
    .where(
      and(
        eq(mailboxes.access, "gmail_api"),
        sql`lower(${mailboxes.oauthConnectedEmail}) = lower(${emailAddress})`,
        isWatchable(),
      ),
    );
}

/** The mailbox whose Graph subscription this is, if it is still the current one. */
export async function findMailboxByGraphSubscription({ subscriptionId }: { subscriptionId: string }): Promise<{ id: string } | null> {
  const [row] = await getDb()
    .select({ id: mailboxes.id })
    .from(mailboxes)
    .where(and(eq(mailboxes.access, "graph_api"), sql`(${mailboxes.syncState} ->> 'graphSubscriptionId') = ${subscriptionId}`))
    .limit(1);
  return row ?? null;
}

/** The Graph mailboxes holding any of these subscriptions, in one query: subscription id -> mailbox id. */
export async function findMailboxesByGraphSubscriptions({ subscriptionIds }: { subscriptionIds: string[] }): Promise<Map<string, string>> {
  if (subscriptionIds.length === 0) return new Map();
  const subscription = sql<string>`(${mailboxes.syncState} ->> 'graphSubscriptionId')`;
  const rows = await getDb()
    .select({ id: mailboxes.id, subscriptionId: subscription })
    .from(mailboxes)
    .where(and(eq(mailboxes.access, "graph_api"), inArray(subscription, subscriptionIds)));
  return new Map(rows.map((r) => [r.subscriptionId, r.id]));
}

/** Issue 15: the per-mailbox quiet warning switch (the watcher's quiet scan reads it each time). */
export async function setMailboxQuietAlert({ tenantId, purpose, enabled }: { tenantId: string; purpose: MailboxPurpose; enabled: boolean }): Promise<boolean> {
  const rows = await getDb()
    .update(mailboxes)
    .set({ quietAlert: enabled })
    .where(and(eq(mailboxes.tenantId, tenantId), eq(mailboxes.purpose, purpose)))
    .returning({ id: mailboxes.id });
  return rows.length > 0;
}
