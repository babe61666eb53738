import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { notifyMailboxPush } from "@/lib/db/queries/mailbox-changes";
import { findMailboxesByGraphSubscriptions } from "@/lib/db/queries/mailboxes";
import type { PushEvent } from "@/lib/email/provider";
import { AppError } from "@/lib/errors";

/**
 * Microsoft Graph change notifications (seed §5.2): Graph POSTs "a message was created" or a
 * lifecycle event to our notification URL. Anyone can POST to a public URL, so a notification
 * counts only when its subscription is one we hold and its clientState is the one we gave Graph
 * for that mailbox. The clientState is derived, not stored: HMAC(secret, mailbox id).
 */
export type GraphNotification = {
  subscriptionId: string;
  clientState: string | null;
  /** "created" etc.; null for lifecycle notifications. */
  changeType: string | null;
  resource: string | null;
  /** reauthorizationRequired | subscriptionRemoved | missed, for lifecycle notifications. */
  lifecycleEvent?: string;
};

/**
 * Graph's subscription validation: on creation (and sometimes later) Graph POSTs to the
 * notification URL with ?validationToken=...; the endpoint must answer 200 text/plain with the
 * token, unchanged, within 10 seconds. Returns the token to echo, or null for a normal notification.
 */
export function handleGraphValidation(url: URL): string | null {
  return url.searchParams.get("validationToken");
}

/** Graph allows a clientState of up to 128 characters; this is 43. */
export function deriveGraphClientState({ mailboxId, secret }: { mailboxId: string; secret: string }): string {
  return createHmac("sha256", secret).update(`graph-client-state:${mailboxId}`).digest("base64url");
}

export function isSameClientState(given: string | null, expected: string): boolean {
  if (given === null || expected === "") return false;
  const a = Buffer.from(given, "utf8");
  const b = Buffer.from(expected, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

const notificationSchema = z.object({
  subscriptionId: z.string().min(1),
  clientState: z.string().nullish(),
  changeType: z.string().nullish(),
  resource: z.string().nullish(),
  lifecycleEvent: z.string().nullish(),
});
/**
 * Graph batches notifications, but a real batch (one per message change, ~500 bytes each) is far
 * below this; a bigger collection is refused before any database work. The route's 1 MiB body
 * limit holds about 2,000 minimal ones.
 */
export const MAX_GRAPH_NOTIFICATIONS = 1000;
const notificationBodySchema = z.object({ value: z.array(z.unknown()) });

/**
 * The well-formed change and lifecycle notifications in a Graph POST body (clientState not yet
 * checked), or null when the body is not a notification collection.
 */
export function parseGraphNotifications(body: unknown): GraphNotification[] | null {
  const envelope = notificationBodySchema.safeParse(body);
  if (!envelope.success) return null;
  const out: GraphNotification[] = [];
  for (const raw of envelope.data.value) {
    const item = notificationSchema.safeParse(raw);
    if (!item.success) continue;
    const n = item.data;
    if (!n.lifecycleEvent && !n.changeType) continue;
    const notification: GraphNotification = {
      subscriptionId: n.subscriptionId,
      clientState: n.clientState ?? null,
      changeType: n.changeType ?? null,
      resource: n.resource ?? null,
    };
    if (n.lifecycleEvent) notification.lifecycleEvent = n.lifecycleEvent;
    out.push(notification);
  }
  return out;
}

/** What the owning watcher should do for a notification. */
export function pushEventFor(n: GraphNotification): PushEvent {
  switch (n.lifecycleEvent) {
    case "reauthorizationRequired":
      return "reauthorize";
    case "subscriptionRemoved":
      return "resubscribe";
    case "missed":
      return "missed";
    default:
      return "changed";
  }
}

export type GraphNotificationOutcome = { accepted: number; ignored: number };

/**
 * Wakes the owning watcher for every authentic notification. Unknown subscriptions and wrong
 * clientStates are ignored (and counted), never an error: Graph retries non-2xx answers and
 * would slow down all our notifications for a forged one.
 */
export async function receiveGraphNotifications({ body, secret }: { body: unknown; secret: string }): Promise<GraphNotificationOutcome> {
  const notifications = parseGraphNotifications(body);
  if (notifications === null) throw new AppError(400, "invalid_notification", "The body is not a Microsoft Graph notification collection.");
  if (notifications.length > MAX_GRAPH_NOTIFICATIONS) {
    throw new AppError(413, "too_many_notifications", `A notification collection holds at most ${MAX_GRAPH_NOTIFICATIONS} notifications.`);
  }
  const outcome: GraphNotificationOutcome = { accepted: 0, ignored: 0 };
  // One wake-up per mailbox and event: a batch of 100 "created" needs one delta round, not 100.
  const wake = new Map<string, Set<PushEvent>>();
  // Every subscription of the batch in one query, however many notifications repeat or forge them.
  const owners = await findMailboxesByGraphSubscriptions({ subscriptionIds: [...new Set(notifications.map((n) => n.subscriptionId))] });
  for (const n of notifications) {
    const mailboxId = owners.get(n.subscriptionId);
    const mailbox = mailboxId ? { id: mailboxId } : null;
    if (!mailbox || !isSameClientState(n.clientState, deriveGraphClientState({ mailboxId: mailbox.id, secret }))) {
      outcome.ignored++;
      continue;
    }
    outcome.accepted++;
    const events = wake.get(mailbox.id) ?? new Set<PushEvent>();
    events.add(pushEventFor(n));
    wake.set(mailbox.id, events);
  }
  for (const [mailboxId, events] of wake) {
    for (const event of events) await notifyMailboxPush({ mailboxId, event });
  }
  return outcome;
}
