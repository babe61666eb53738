/**
 * Connect concurrency that follows the server (issue 19). EMAIL_CONNECTION_POOL_SIZE is where it
 * starts and the floor; from there, like TCP's congestion window, it grows by one while connects
 * take no longer than twice the fastest recently seen, and shrinks by a quarter when they take
 * more than three times as long (the server, or the watcher's own event loop, is saturated). So
 * 2,000 mailboxes connect as fast as the server accepts, and a slow server is not hammered.
 * Same shape as Semaphore (acquire -> release): mailbox-connection.ts only widened its type.
 * Fast failures (a server refusing logins) also count as fast connects; the per-mailbox backoff,
 * not this gate, is what spaces their retries.
 */
export type ConnectGateOptions = {
  /** Concurrent connects at start and at least (EMAIL_CONNECTION_POOL_SIZE). */
  initial: number;
  /** Never more than this many at once. */
  max: number;
  now?: () => number;
};

export class AdaptiveConnectGate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private currentLimit: number;
  private readonly floor: number;
  private readonly max: number;
  private readonly now: () => number;
  /** Fastest connect in the current window. */
  private fastestMs = Number.POSITIVE_INFINITY;
  /**
   * The "unloaded" connect time: the fastest seen, allowed to drift up 10 % per window so a lasting
   * change of server or network becomes the new normal, while a sudden slowdown still counts.
   */
  private referenceMs = Number.POSITIVE_INFINITY;
  private window: number[] = [];

  constructor(opts: ConnectGateOptions) {
    this.floor = Math.max(1, opts.initial);
    this.max = Math.max(this.floor, opts.max);
    this.currentLimit = this.floor;
    this.now = opts.now ?? (() => performance.now());
  }

  get limit(): number {
    return this.currentLimit;
  }

  get pending(): number {
    return this.waiting.length;
  }

  async acquire(): Promise<() => void> {
    if (this.active + this.reserved >= this.currentLimit || this.waiting.length > 0) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    const started = this.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= 1;
      this.record(this.now() - started);
      this.wake();
    };
  }

  private wake(): void {
    while (this.active + this.reserved < this.currentLimit && this.waiting.length > 0) {
      this.reserved += 1;
      const next = this.waiting.shift() as () => void;
      // The woken acquire counts itself in `active`; until then its slot is reserved.
      queueMicrotask(() => {
        this.reserved -= 1;
        next();
      });
    }
  }

  private reserved = 0;

  /** One decision per `limit` connects: grow, hold or shrink. */
  private record(ms: number): void {
    this.window.push(ms);
    this.fastestMs = Math.min(this.fastestMs, ms);
    if (this.window.length < this.currentLimit) return;
    const sorted = [...this.window].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    this.referenceMs = Math.min(this.fastestMs, this.referenceMs * 1.1);
    if (median <= 2 * this.referenceMs) this.currentLimit = Math.min(this.max, this.currentLimit + 1);
    else if (median > 3 * this.referenceMs) this.currentLimit = Math.max(this.floor, Math.floor(this.currentLimit * 0.75));
    this.fastestMs = Number.POSITIVE_INFINITY;
    this.window = [];
  }
}
