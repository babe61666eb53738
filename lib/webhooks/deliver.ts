import type PgBoss from "pg-boss";
import type { Logger } from "pino";
import { runInTransaction } from "@/lib/db/queries/job-queue";
import { getDeliveryWork, recordDeliveryAttempt, type DeliveryWork } from "@/lib/db/queries/webhooks";
import { getSecretBox } from "@/lib/crypto/secret-box";
import { getEnv, type Env } from "@/lib/env";
import { sendJob } from "@/lib/jobs/job-queue";
import { postWebhook, type PostResult } from "./post-webhook";
import { nextWebhookAttemptAt, type WebhookRetryPolicy } from "./retry-policy";
import { rawLinkToken, signWebhookPayload } from "./secret";
import { webhookDeliverySpec, type DeliveryJob } from "./webhook-queue";

export function retryPolicyFromEnv(env: Env): WebhookRetryPolicy {
  return {
    baseMs: env.WEBHOOK_RETRY_BASE_SECONDS * 1000,
    maxMs: env.WEBHOOK_RETRY_MAX_SECONDS * 1000,
    windowMs: env.WEBHOOK_RETRY_WINDOW_SECONDS * 1000,
  };
}

/** The signed raw-source link: usable without a session, for WEBHOOK_RAW_LINK_HOURS. */
export function rawSourceUrl(env: Env, messageId: string, now = Date.now()): string {
  const expires = Math.floor(now / 1000) + env.WEBHOOK_RAW_LINK_HOURS * 3600;
  const token = rawLinkToken({ key: env.SESSION_SECRET, messageId, expires });
  return `${env.APP_URL}/api/tenant/webhooks/raw/${messageId}?expires=${expires}&token=${token}`;
}

/** The JSON body (Standard Webhooks shape: type, timestamp, data). */
export function buildWebhookPayload(work: DeliveryWork, env: Env): Record<string, unknown> {
  const { event, message } = work;
  if (event.type === "message.received") {
    const raw = message?.raw && message.raw.length > 0 ? message.raw : null;
    return {
      type: event.type,
      timestamp: event.createdAt.toISOString(),
      data: message
        ? {
            id: message.id,
            mailbox_id: message.mailboxId,
            purpose: message.purpose,
            provider_message_id: message.providerMessageId,
            message_id: message.messageId,
            from: message.fromAddress,
            to: message.toAddresses,
            subject: message.subject,
            sent_at: message.sentAt?.toISOString() ?? null,
            received_at: message.receivedAt.toISOString(),
            size: message.size,
            status: message.status,
            text: message.textBody,
            attachments: message.attachments,
            raw_url: rawSourceUrl(env, message.id),
            ...(raw ? { raw_base64: raw.toString("base64") } : {}),
          }
        : // The message was deleted since: the event still says so rather than vanishing.
          { id: null, deleted: true },
    };
  }
  return { type: event.type, timestamp: event.createdAt.toISOString(), data: { mailbox_id: event.mailboxId, ...event.data } };
}

/** One attempt of one delivery; returns what happened (for the log and tests). */
export async function attemptDelivery({
  job,
  env,
  log,
  now = () => new Date(),
}: {
  job: DeliveryJob;
  env: Env;
  log: Logger;
  now?: () => Date;
}): Promise<"stale" | "succeeded" | "retry" | "failed"> {
  const work = await getDeliveryWork({ deliveryId: job.deliveryId });
  // Another run already recorded this attempt (a job retried after a crash), or a replay is due.
  if (!work || work.delivery.status !== "pending" || work.delivery.attempts !== job.attempt) return "stale";
  let result: PostResult;
  if (!work.endpoint.enabled) {
    result = { statusCode: null, response: "Not delivered: the endpoint is disabled." };
  } else {
    const body = JSON.stringify(buildWebhookPayload(work, env));
    const timestamp = Math.floor(Date.now() / 1000);
    const secret = getSecretBox().decrypt(work.endpoint.secretEncrypted);
    result = await postWebhook({
      url: work.endpoint.url,
      body,
      headers: {
        "webhook-id": work.event.id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": signWebhookPayload({ secret, id: work.event.id, timestamp, body }),
      },
      timeoutMs: env.WEBHOOK_TIMEOUT_SECONDS * 1000,
      allowPrivate: env.MAIL_ALLOW_PRIVATE_HOSTS,
    });
  }
  const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
  const nextAt = ok || !work.endpoint.enabled
    ? null
    : nextWebhookAttemptAt({ policy: retryPolicyFromEnv(env), attempt: job.attempt, windowStartedAt: work.delivery.windowStartedAt, now: now() });
  const status = ok ? "succeeded" : nextAt ? "pending" : "failed";
  await runInTransaction(async (tx) => {
    const recorded = await recordDeliveryAttempt({
      tx,
      deliveryId: job.deliveryId,
      attempt: job.attempt,
      outcome: { status, statusCode: result.statusCode, response: result.response, nextAttemptAt: nextAt },
    });
    // The next attempt's job commits with this attempt's outcome: neither exists without the other.
    if (recorded && nextAt) {
      await sendJob({ spec: webhookDeliverySpec(), data: { deliveryId: job.deliveryId, attempt: job.attempt + 1 }, tx, options: { startAfter: nextAt } });
    }
  });
  if (status === "failed") log.warn({ event: "webhook_delivery_failed", deliveryId: job.deliveryId, attempts: job.attempt + 1 }, "webhook delivery failed for good");
  return status === "pending" ? "retry" : status;
}

/** The pg-boss handler: each job of the batch on its own; one failing never fails the others. */
export function deliveryHandler(log: Logger): (jobs: PgBoss.Job<DeliveryJob>[]) => Promise<void> {
  return async (jobs) => {
    const env = getEnv();
    const results = await Promise.allSettled(jobs.map((job) => attemptDelivery({ job: job.data, env, log })));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    for (const f of failures) log.error({ event: "webhook_delivery_error", err: f.reason }, "webhook delivery attempt errored");
    // Only an error before the outcome was recorded (database down) lands here; the batch is retried
    // by pg-boss, and attempts already recorded are skipped as stale.
    if (failures.length > 0) throw new Error(`${failures.length} webhook delivery attempt(s) errored`);
  };
}
