import type { Transaction } from "@/lib/db/queries/job-queue";
import { getLastAnnouncedMailboxStatus, insertWebhookEvents, type WebhookEventsInput } from "@/lib/db/queries/webhooks";
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

/**
 * mailbox.status_changed for a settled status (connecting is transient: every reconnect passes it)
 * that differs from the one last announced for this mailbox.
 */
export async function recordMailboxStatusEvent({
  tx,
  mailbox,
  status,
  error,
}: {
  tx: Transaction;
  /** The mailbox whose status changed, as the status UPDATE returned it. */
  mailbox: { id: string; tenantId: string; purpose: string };
  status: string;
  error?: string | null;
}): Promise<void> {
  if (status === "connecting") return;
  const previous = await getLastAnnouncedMailboxStatus({ tx, mailboxId: mailbox.id });
  if (previous === status) return;
  await recordWebhookEvents({
    tx,
    tenantId: mailbox.tenantId,
    type: "mailbox.status_changed",
    events: [{ mailboxId: mailbox.id, data: { status, previous_status: previous, purpose: mailbox.purpose, error: error ?? null } }],
  });
}
