import { and, count, eq, gte, inArray, sql } from "drizzle-orm";
import { getDb } from "@/lib/db/client";
import { mailboxEvents, type MailboxEvent } from "@/lib/db/schema";

type EventKind = MailboxEvent["kind"];

export async function recordMailboxEvent({
  mailboxId,
  kind,
  message,
}: {
  mailboxId: string;
  kind: EventKind;
  message?: string | null;
}): Promise<void> {
  await getDb().insert(mailboxEvents).values({ mailboxId, kind, message: message ?? null });
}

/** Errors in the last 24 h, counted from timestamped events so a later success does not erase them. */
export async function countRecentErrors({
  mailboxIds,
  since,
}: {
  mailboxIds: string[];
  since: Date;
}): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  if (mailboxIds.length === 0) return result;
  const rows = await getDb()
    .select({ mailboxId: mailboxEvents.mailboxId, n: count() })
    .from(mailboxEvents)
    .where(
      and(
        inArray(mailboxEvents.mailboxId, mailboxIds),
        inArray(mailboxEvents.kind, ["error", "auth_failed"]),
        gte(mailboxEvents.createdAt, since),
      ),
    )
    .groupBy(mailboxEvents.mailboxId);
  for (const r of rows) result.set(r.mailboxId, Number(r.n));
  return result;
}

export async function listRecentEvents({
  mailboxId,
  limit,
}: {
  mailboxId: string;
  limit: number;
}): Promise<MailboxEvent[]> {
  return getDb()
    .select()
    .from(mailboxEvents)
    .where(eq(mailboxEvents.mailboxId, mailboxId))
    .orderBy(sql`${mailboxEvents.createdAt} DESC, ${mailboxEvents.id} DESC`)
    .limit(limit);
}

/** Keeps the events table bounded; health only looks back 24 h, the UI a little further. */
export async function pruneMailboxEvents({ olderThan }: { olderThan: Date }): Promise<number> {
  const rows = await getDb()
    .delete(mailboxEvents)
    .where(sql`${mailboxEvents.createdAt} < ${olderThan}`)
    .returning({ id: mailboxEvents.id });
  return rows.length;
}
