import { sql } from "drizzle-orm";
import type { PushEvent } from "@/lib/email/provider";
import { getDb, getPool } from "@/lib/db/client";

/**
 * The NOTIFY protocol between the web process and the watchers: one channel, one JSON payload
 * per change. The web announces settings changes, queued retries and push wake-ups; every
 * watcher LISTENs and acts on what concerns the mailboxes it owns (watcher/orchestrator.ts).
 */
export const MAILBOX_CHANNEL = "mailbox_changed";

export type MailboxChange =
  | { op: "upsert" | "delete"; mailbox_id: string; tenant_id: string }
  | { op: "tenant"; tenant_id: string }
  | { op: "queued"; message_id: string }
  | { op: "push"; mailbox_id: string; event: PushEvent }
  | { op: "reload" };

/** NOTIFY runs inside the caller's transaction when given one, so a rolled-back change is never announced. */
export async function notifyChange(
  change: MailboxChange,
  tx: Pick<ReturnType<typeof getDb>, "execute"> = getDb(),
): Promise<void> {
  await tx.execute(sql`SELECT pg_notify(${MAILBOX_CHANNEL}, ${JSON.stringify(change)})`);
}

export async function requestWatcherReload(): Promise<void> {
  await notifyChange({ op: "reload" });
}

/** Wakes the watcher that owns the mailbox (the others ignore it). */
export async function notifyMailboxPush({ mailboxId, event }: { mailboxId: string; event: PushEvent }): Promise<void> {
  await notifyChange({ op: "push", mailbox_id: mailboxId, event });
}

/** A dedicated connection for LISTEN: pooled clients would drop the subscription. */
export async function listenForMailboxChanges({
  onChange,
  onError,
}: {
  onChange: (change: MailboxChange) => void;
  onError: (err: Error) => void;
}): Promise<{ close: () => Promise<void> }> {
  const client = await getPool().connect();
  client.on("notification", (msg) => {
    if (msg.channel !== MAILBOX_CHANNEL || !msg.payload) return;
    try {
      onChange(JSON.parse(msg.payload) as MailboxChange);
    } catch {
      // A malformed payload is not ours; ignore it rather than stop listening.
    }
  });
  client.on("error", onError);
  await client.query(`LISTEN ${MAILBOX_CHANNEL}`);
  return {
    close: async () => {
      client.removeAllListeners("notification");
      await client.query(`UNLISTEN ${MAILBOX_CHANNEL}`).catch(() => {});
      client.release(true);
    },
  };
}
