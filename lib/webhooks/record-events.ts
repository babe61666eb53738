import type { Transaction } from "@/lib/db/queries/job-queue";
import { getLastAnnouncedMailboxStatuses, insertWebhookEvents, type WebhookEventsInput } from "@/lib/db/queries/webhooks";
import { sendJobs } from "@/lib/jobs/job-queue";
import { webhookDeliverySpec } from "./webhook-queue";

/**
 * Writes events, their deliveries and the delivery jobs on `tx`: all of it commits with the row the
 * event describes, or none of it does. That is the whole "no event lost" argument: there is no
 * moment where the row exists and the job to announce it does not.
 */
export async function recordWebhookEvents(input: WebhookEventsInput): Promise<number> {
  const deliveries = await insertWebhookEvents(input);
  await sendJobs({ spec: webhookDeliverySpec(), jobs: deliveries.map((d) => ({ data: { deliveryId: d.deliveryId, attempt: 0 } })), tx: input.tx });
  return deliveries.length;
}

export type MailboxStatusEvent = {
  /** The mailbox whose status changed, as the status UPDATE returned it. */
  mailbox: { id: string; tenantId: string; purpose: string };
  status: string;
  error?: string | null;
};

/**
 * mailbox.status_changed for each settled status (connecting is transient: every reconnect passes
 * it) that differs from the one last announced for its mailbox. One read of the last announced
 * statuses for all of them; events are written only for real changes.
 */
export async function recordMailboxStatusEvents({ tx, changes }: { tx: Transaction; changes: MailboxStatusEvent[] }): Promise<void> {
  const settled = changes.filter((c) => c.status !== "connecting");
  if (settled.length === 0) return;
  const announced = await getLastAnnouncedMailboxStatuses({ tx, mailboxIds: [...new Set(settled.map((c) => c.mailbox.id))] });
  for (const c of settled) {
    const previous = announced.get(c.mailbox.id) ?? null;
    if (previous === c.status) continue;
    announced.set(c.mailbox.id, c.status);
    await recordWebhookEvents({
      tx,
      tenantId: c.mailbox.tenantId,
      type: "mailbox.status_changed",
      events: [{ mailboxId: c.mailbox.id, data: { status: c.status, previous_status: previous, purpose: c.mailbox.purpose, error: c.error ?? null } }],
    });
  }
}
