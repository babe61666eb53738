import { getEnv } from "@/lib/env";
import { getLogger } from "@/lib/logger";
import { stopOnSignal } from "@/lib/util/stop-on-signal";
import { createWatcherMetrics } from "./metrics";
import { createUncaughtExceptionHandler, handleUnhandledRejection } from "./process-errors";
import { startWatcherRuntime, type WatcherRuntime } from "./runtime";

process.env.SERVICE_NAME ??= "watcher";
const log = getLogger();
// Created before anything can fail, so the process-error handlers can count from the first tick.
const metrics = createWatcherMetrics();
let runtime: WatcherRuntime | null = null;

const count = (kind: "uncaught_exception" | "unhandled_rejection"): void => metrics.processErrors.inc({ kind });

process.on("unhandledRejection", (reason) => handleUnhandledRejection(reason, { log, count }));
process.on(
  "uncaughtException",
  createUncaughtExceptionHandler({
    log,
    count,
    shutdown: async () => {
      await runtime?.stop();
    },
    exit: (code) => process.exit(code),
    shutdownTimeoutMs: 5000,
  }),
);

async function main(): Promise<void> {
  const env = getEnv();
  runtime = await startWatcherRuntime({ env, log, metrics });
  const started = runtime;
  // A stuck socket must not keep a pod in Terminating: exit anyway after a few seconds.
  stopOnSignal({ name: "watcher", log, stop: () => started.stop(), graceMs: 5000 });
}

main().catch((err: unknown) => {
  log.fatal({ err }, "watcher failed to start");
  process.exit(1);
});
