import { getEnv } from "@/lib/env";
import { getLogger } from "@/lib/logger";
import { startWatcherRuntime } from "./runtime";

process.env.SERVICE_NAME ??= "watcher";
const log = getLogger();

async function main(): Promise<void> {
  const env = getEnv();
  const runtime = await startWatcherRuntime({ env, log });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "watcher stopping");
    // A stuck socket must not keep a pod in Terminating: exit anyway after a few seconds.
    setTimeout(() => process.exit(0), 5000).unref();
    void runtime.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "watcher stop failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

process.on("unhandledRejection", (err) => {
  log.error({ err }, "unhandled rejection");
});

// MIME parsing runs in worker threads (lib/ingest/parse-pool.ts), so a hostile message ends a
// worker, not this process. Anything that still escapes is a bug that left state unknown: log it
// with its stack, then exit non-zero so the orchestrator restarts a clean process. The mailbox locks
// are session-level advisory locks and die with the connection, so another replica takes over.
process.on("uncaughtException", (err, origin) => {
  log.fatal({ err, origin }, "uncaught exception; the watcher exits to restart clean");
  setTimeout(() => process.exit(1), 100).unref();
});

main().catch((err: unknown) => {
  log.fatal({ err }, "watcher failed to start");
  process.exit(1);
});
