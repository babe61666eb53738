import { and, count, eq, gte, max, sql } from "drizzle-orm";
import { getDb } from "@/lib/db/client";
import { notifyChange } from "./mailbox-changes";
import { ingestedMessages, mailboxes, tenants, type ForwardingVerification, type Mailbox, type MailboxPurpose } from "@/lib/db/schema";

/** The enabled forwarding mailbox of an active tenant that owns this token, or null (550 5.1.1 at RCPT). */
export async function findForwardingMailbox({ token }: { token: string }): Promise<Mailbox | null> {
  const [row] = await getDb()
    .select({ mailbox: mailboxes })
    .from(mailboxes)
    .innerJoin(tenants, eq(tenants.id, mailboxes.tenantId))
    .where(
      and(
        eq(mailboxes.forwardingToken, token),
        eq(mailboxes.access, "forwarding"),
        eq(mailboxes.enabled, true),
        eq(tenants.isActive, true),
      ),
    );
  return row?.mailbox ?? null;
}

/** A new token: the old address stops accepting at once (the lookup is by token). */
export async function replaceForwardingToken({
  tenantId,
  purpose,
  token,
}: {
  tenantId: string;
  purpose: MailboxPurpose;
  token: string;
}): Promise<Mailbox | null> {
  return getDb().transaction(async (tx) => {
    const [row] = await tx
      .update(mailboxes)
      .set({
        forwardingToken: token,
        forwardingVerification: null,
        configVersion: sql`${mailboxes.configVersion} + 1`,
        updatedAt: sql`now()`,
      })
      .where(and(eq(mailboxes.tenantId, tenantId), eq(mailboxes.purpose, purpose), eq(mailboxes.access, "forwarding")))
      .returning();
    if (row) await notifyChange({ op: "upsert", mailbox_id: row.id, tenant_id: tenantId }, tx);
    return row ?? null;
  });
}

export async function saveForwardingVerification({
  mailboxId,
  verification,
}: {
  mailboxId: string;
  verification: ForwardingVerification;
}): Promise<void> {
  await getDb().update(mailboxes).set({ forwardingVerification: verification }).where(eq(mailboxes.id, mailboxId));
}

/** A message received for the mailbox was stored: the forwarding mailbox is working. */
export async function markForwardingReceived({ mailboxId }: { mailboxId: string }): Promise<void> {
  await getDb()
    .update(mailboxes)
    .set({ status: "connected", lastSuccessAt: sql`now()`, lastError: null })
    .where(eq(mailboxes.id, mailboxId));
}

export type ForwardingStats = { lastReceivedAt: Date | null; received24h: number; failed24h: number };

/** Health of a forwarding mailbox: what arrived through it, from the stored rows themselves. */
export async function getForwardingStats({ mailboxId, since }: { mailboxId: string; since: Date }): Promise<ForwardingStats> {
  const db = getDb();
  const [last] = await db
    .select({ at: max(ingestedMessages.receivedAt) })
    .from(ingestedMessages)
    .where(eq(ingestedMessages.mailboxId, mailboxId));
  const [recent] = await db
    .select({
      all: count(),
      failed: sql<number>`count(*) filter (where ${ingestedMessages.status} = 'failed')`.mapWith(Number),
    })
    .from(ingestedMessages)
    .where(and(eq(ingestedMessages.mailboxId, mailboxId), gte(ingestedMessages.receivedAt, since)));
  return {
    lastReceivedAt: last?.at ?? null,
    received24h: Number(recent?.all ?? 0),
    failed24h: Number(recent?.failed ?? 0),
  };
}
