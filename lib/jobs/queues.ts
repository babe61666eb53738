import { alertMailWorker } from "@/lib/alerts/alert-mail-worker";
import { getEnv } from "@/lib/env";
import { getLogger } from "@/lib/logger";
import { retentionSpec } from "@/lib/retention/retention";
import { deliveryHandler } from "@/lib/webhooks/deliver";
import { webhookDeliverySpec } from "@/lib/webhooks/webhook-queue";
import type { AnyJobQueueSpec } from "./job-queue";

/**
 * Every queue the watcher runs (handlers and schedules). A feature adds its spec to this list, one
 * line each; the web process only sends to them (sendJob creates a missing queue first).
 */
export function watcherJobQueues(): AnyJobQueueSpec[] {
  const env = getEnv();
  const log = getLogger();
  return [
    webhookDeliverySpec(deliveryHandler(log)) as unknown as AnyJobQueueSpec,
    retentionSpec(env, log) as unknown as AnyJobQueueSpec,
    alertMailWorker() as unknown as AnyJobQueueSpec,
  ];
}
