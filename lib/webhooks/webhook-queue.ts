import { getEnv } from "@/lib/env";
import type { JobQueueSpec } from "@/lib/jobs/job-queue";

export type DeliveryJob = { deliveryId: string; attempt: number };

/**
 * The delivery queue. pg-boss's own retry is the crash net only (a handler that threw, or a job that
 * expired because its process was killed mid-attempt); the HTTP retry schedule is ours
 * (retry-policy.ts): each attempt's outcome and the next job are committed together.
 */
export const WEBHOOK_DELIVERY_QUEUE = "webhook-delivery";

export function webhookDeliverySpec(handler?: JobQueueSpec<DeliveryJob>["handler"]): JobQueueSpec<DeliveryJob> {
  const env = getEnv();
  return {
    name: WEBHOOK_DELIVERY_QUEUE,
    // A job still active after two attempt timeouts belonged to a killed process: retried then.
    policy: { retryLimit: 20, retryDelaySeconds: 2, retryBackoff: true, expireInSeconds: env.WEBHOOK_TIMEOUT_SECONDS * 2 + 5 },
    batchSize: 10,
    workers: env.WEBHOOK_DELIVERY_CONCURRENCY,
    ...(handler ? { handler } : {}),
  };
}
