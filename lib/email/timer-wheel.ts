/**
 * One shared timer for every connection's liveness deadlines (issue 19: no per-mailbox timers).
 * 10,000 idling mailboxes each hold a silence deadline and, while a command runs, a response
 * deadline; here they are entries in buckets of `resolutionMs`, and ONE unref'd interval ticks while
 * any entry is pending. Adding and cancelling is a Set insert/delete; a tick only touches the
 * buckets that came due. Deadlines fire up to one resolution late, never early: fine for checks
 * measured in tens of seconds.
 */
export type WheelHandle = { readonly due: number; cancelled: boolean; fn: () => void };

export type WheelTimers = {
  now: () => number;
  setInterval: (fn: () => void, ms: number) => unknown;
  clearInterval: (handle: unknown) => void;
};

const realTimers: WheelTimers = {
  now: () => Date.now(),
  setInterval: (fn, ms) => {
    const handle = setInterval(fn, ms);
    // A pending check must never keep a stopping process alive.
    handle.unref();
    return handle;
  },
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

export class TimerWheel {
  private readonly buckets = new Map<number, Set<WheelHandle>>();
  private pending = 0;
  private ticker: unknown = null;
  /** The last bucket index processed: buckets up to it have fired. */
  private processedThrough: number;

  constructor(
    private readonly resolutionMs = 1000,
    private readonly timers: WheelTimers = realTimers,
  ) {
    this.processedThrough = this.bucketOf(timers.now()) - 1;
  }

  private bucketOf(at: number): number {
    return Math.floor(at / this.resolutionMs);
  }

  get size(): number {
    return this.pending;
  }

  setTimeout(fn: () => void, ms: number): WheelHandle {
    const due = this.timers.now() + Math.max(0, ms);
    const handle: WheelHandle = { due, cancelled: false, fn };
    // Rounded up: the bucket after the one holding `due` never fires before it.
    let bucket = Math.ceil(due / this.resolutionMs);
    if (bucket <= this.processedThrough) bucket = this.processedThrough + 1;
    let set = this.buckets.get(bucket);
    if (!set) {
      set = new Set();
      this.buckets.set(bucket, set);
    }
    set.add(handle);
    this.pending += 1;
    if (this.ticker === null) this.start();
    (handle as WheelHandle & { bucket: number }).bucket = bucket;
    return handle;
  }

  clearTimeout(handle: unknown): void {
    const h = handle as (WheelHandle & { bucket?: number }) | undefined;
    if (!h || h.cancelled) return;
    h.cancelled = true;
    const set = h.bucket === undefined ? undefined : this.buckets.get(h.bucket);
    if (set?.delete(h)) {
      this.pending -= 1;
      if (set.size === 0) this.buckets.delete(h.bucket as number);
      if (this.pending === 0) this.stop();
    }
  }

  private start(): void {
    this.processedThrough = Math.max(this.processedThrough, this.bucketOf(this.timers.now()) - 1);
    this.ticker = this.timers.setInterval(() => this.tick(), this.resolutionMs);
  }

  private stop(): void {
    if (this.ticker !== null) this.timers.clearInterval(this.ticker);
    this.ticker = null;
  }

  /** Fires every bucket that came due; exposed for tests that drive a fake clock. */
  tick(): void {
    const through = this.bucketOf(this.timers.now());
    while (this.processedThrough < through) {
      this.processedThrough += 1;
      const set = this.buckets.get(this.processedThrough);
      if (!set) continue;
      this.buckets.delete(this.processedThrough);
      for (const h of set) {
        this.pending -= 1;
        if (h.cancelled) continue;
        h.cancelled = true;
        try {
          h.fn();
        } catch (err) {
          // Surfaces as a timer callback's throw would (uncaughtException), after the other
          // connections' checks of this tick have run.
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    }
    if (this.pending === 0) this.stop();
  }
}

let shared: TimerWheel | undefined;

/** The process's wheel for liveness deadlines (1 s resolution). */
export function getLivenessWheel(): TimerWheel {
  shared ??= new TimerWheel(1000);
  return shared;
}
