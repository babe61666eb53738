import type { Logger } from "pino";

export type StopOnSignalOptions = {
  /** The process's name in the log lines ("watcher", "inbound"). */
  name: string;
  log: Pick<Logger, "info" | "error">;
  stop: () => Promise<void>;
  /** Exit anyway after this long: a stuck socket must not keep a pod in Terminating. */
  graceMs: number;
  exit?: (code: number) => void;
};

/**
 * The one shutdown shell of the long-running entrypoints: the first SIGTERM/SIGINT stops the runtime
 * and exits 0 (1 if stopping failed); later signals are ignored while it stops. Returns the handler so
 * it can be driven directly.
 */
export function stopOnSignal({ name, log, stop, graceMs, exit = (code) => process.exit(code) }: StopOnSignalOptions): (signal: string) => void {
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `${name} stopping`);
    setTimeout(() => exit(0), graceMs).unref();
    void stop().then(
      () => exit(0),
      (err: unknown) => {
        log.error({ err }, `${name} stop failed`);
        exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  return shutdown;
}
