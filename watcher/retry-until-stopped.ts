/**
 * The one retry loop of the watcher's database sessions (lock, LISTEN, replica presence): try, and
 * on failure wait 1 s, 2 s, 4 s … up to 30 s and try again, until it works or `shouldStop()` says
 * the attempt no longer matters (shutdown, another recovery took over, the session is back).
 */
export type RetryUntilStoppedOptions = {
  attempt: () => Promise<void>;
  /** Checked before every try; true ends the loop without trying. */
  shouldStop: () => boolean;
  onError: (err: unknown) => void;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** For tests: how to wait. */
  sleep?: (ms: number) => Promise<void>;
};

/** Resolves true once `attempt` succeeded, false when stopped first. */
export async function retryUntilStopped(opts: RetryUntilStoppedOptions): Promise<boolean> {
  const max = opts.maxDelayMs ?? 30_000;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let delay = opts.initialDelayMs ?? 1000; !opts.shouldStop(); delay = Math.min(delay * 2, max)) {
    try {
      await opts.attempt();
      return true;
    } catch (err) {
      opts.onError(err);
      await sleep(delay);
    }
  }
  return false;
}
