import { alertMailWorker } from "@/lib/alerts/alert-mail-worker";
import type { AnyJobQueueSpec } from "./job-queue";

/**
 * Every queue the watcher runs (handlers and schedules). A feature adds its spec to this list, one
 * line each; the web process only sends to them (sendJob creates a missing queue first).
 */
export function watcherJobQueues(): AnyJobQueueSpec[] {
  return [alertMailWorker() as unknown as AnyJobQueueSpec];
}
