import type { WaitResult } from "./provider";

/**
 * waitForChange for the API providers: poll the provider's change feed (Gmail history, Graph
 * delta) every pollIntervalMs until it reports new mail, a push notification wakes it, the
 * timeout passes, or the connection ends.
 */
export class ChangePoller {
  private pending = false;
  private readonly wakeListeners = new Set<() => void>();

  /** Push path: a pending wait returns "changed" at once; with none pending, the next one does. */
  notifyChange(): void {
    this.pending = true;
    this.wakeAll();
  }

  /** Ends any pending sleep (disconnect). */
  wakeAll(): void {
    for (const wake of [...this.wakeListeners]) wake();
  }

  async wait(opts: {
    timeoutMs: number;
    /** Read before every sleep: push being set up or lost changes it mid-wait. */
    pollIntervalMs: number | (() => number);
    signal: AbortSignal;
    isConnected: () => boolean;
    /** One round of the provider's change feed; true when new mail may be there. */
    poll: (signal: AbortSignal) => Promise<boolean>;
  }): Promise<WaitResult> {
    if (this.consume()) return "changed";
    if (!opts.isConnected() || opts.signal.aborted) return "closed";
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
      // Poll first: mail that arrived while the last batch was being stored is seen at once.
      if (await opts.poll(opts.signal)) return "changed";
      if (this.consume()) return "changed";
      const remaining = deadline - Date.now();
      if (remaining <= 0) return "timeout";
      const interval = typeof opts.pollIntervalMs === "function" ? opts.pollIntervalMs() : opts.pollIntervalMs;
      const woke = await this.sleep(Math.min(interval, remaining), opts.signal);
      if (opts.signal.aborted || !opts.isConnected()) return "closed";
      if (woke && this.consume()) return "changed";
      if (Date.now() >= deadline) return "timeout";
    }
  }

  private consume(): boolean {
    if (!this.pending) return false;
    this.pending = false;
    return true;
  }

  /** Resolves true when woken (push or disconnect), false on timeout or abort. */
  private sleep(ms: number, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (woke: boolean): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.wakeListeners.delete(onWake);
        resolve(woke);
      };
      const onAbort = (): void => done(false);
      const onWake = (): void => done(true);
      const timer = setTimeout(() => done(false), ms);
      signal.addEventListener("abort", onAbort, { once: true });
      this.wakeListeners.add(onWake);
    });
  }
}
