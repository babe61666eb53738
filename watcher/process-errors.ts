import type { Logger } from "pino";

export type ProcessErrorKind = "uncaught_exception" | "unhandled_rejection";

export type ProcessErrorDeps = {
  log: Pick<Logger, "error" | "fatal">;
  /** Counts each kind in watcher_process_errors_total (absent until the runtime has started). */
  count: (kind: ProcessErrorKind) => void;
  /** Closes connections, releases mailbox locks and the database pool. */
  shutdown: () => Promise<void>;
  exit: (code: number) => void;
  /** Longest wait for shutdown before exiting anyway: a stuck socket must not keep a broken process up. */
  shutdownTimeoutMs: number;
  setTimer?: (fn: () => void, ms: number) => void;
};

/**
 * A rejected promise nobody awaited is a bug, but it is one failed operation: the state that
 * rejected it stays consistent (each mailbox loop owns its own state and catches its own errors),
 * so the watcher logs it, counts it and keeps ingesting for every other tenant.
 */
export function handleUnhandledRejection(reason: unknown, deps: Pick<ProcessErrorDeps, "log" | "count">): void {
  deps.count("unhandled_rejection");
  deps.log.error({ event: "unhandled_rejection", err: reason }, "unhandled promise rejection (kept running)");
}

/**
 * An exception thrown out of a callback has unwound through code that did not expect it: a
 * half-updated loop, a lock we think we hold, a socket in an unknown state. Node's own advice is
 * that the process must not resume, so the watcher shuts down as cleanly as it can within a bound
 * (mailbox locks are released, so another replica or the restarted process takes over at once
 * instead of waiting for lock expiry) and exits non-zero for the supervisor (Kubernetes, systemd,
 * docker restart policy) to restart it. Mail is not lost: the durable cursor means the next process
 * starts exactly where this one had committed. A second exception during the shutdown exits at once.
 */
export function createUncaughtExceptionHandler(deps: ProcessErrorDeps): (err: unknown) => void {
  let shuttingDown = false;
  const setTimer =
    deps.setTimer ??
    ((fn: () => void, ms: number): void => {
      setTimeout(fn, ms).unref();
    });
  return (err: unknown): void => {
    deps.count("uncaught_exception");
    deps.log.fatal({ event: "uncaught_exception", err }, "uncaught exception: shutting down to restart clean");
    if (shuttingDown) {
      deps.exit(1);
      return;
    }
    shuttingDown = true;
    setTimer(() => deps.exit(1), deps.shutdownTimeoutMs);
    deps.shutdown().then(
      () => deps.exit(1),
      (shutdownErr: unknown) => {
        deps.log.error({ event: "shutdown_failed", err: shutdownErr }, "shutdown after an uncaught exception failed");
        deps.exit(1);
      },
    );
  };
}
