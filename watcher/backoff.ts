/**
 * Reconnect delays: the seed's tenacity policy (§8.1: wait_exponential(multiplier=1, min=2, max=30))
 * with jitter, so that a few thousand mailboxes dropped by one server restart do not reconnect in
 * lock-step. Pure, so its values can be pinned in tests.
 */
export type BackoffPolicy = {
  /** Seconds multiplied by 2^(attempt-1), tenacity's `multiplier`. */
  multiplierMs: number;
  minMs: number;
  maxMs: number;
  /** Fraction of the delay that is randomised: 0 = none, 0.5 = delay in [50 %, 100 %]. */
  jitter: number;
  /** Wrong credentials do not fix themselves; retry slowly instead of storming the server. */
  authFailureMs: number;
  /** A connection must stay up this long before the attempt counter resets. */
  stableAfterMs: number;
};

export const DEFAULT_BACKOFF: BackoffPolicy = {
  multiplierMs: 1000,
  minMs: 2000,
  maxMs: 30_000,
  jitter: 0.5,
  authFailureMs: 15 * 60_000,
  stableAfterMs: 60_000,
};

/** Delay before reconnect attempt number `attempt` (1-based) after a failure. */
export function computeBackoffMs(
  policy: BackoffPolicy,
  attempt: number,
  opts: { authFailure?: boolean; retryAfterMs?: number; retryNow?: boolean; random?: () => number } = {},
): number {
  if (opts.authFailure) return policy.authFailureMs;
  const n = Math.max(1, Math.floor(attempt));
  // A dead path found by the liveness check: the first retry is immediate (freeze -> stored < 2 min).
  if (opts.retryNow && n === 1) return opts.retryAfterMs ?? 0;
  const exponential = policy.multiplierMs * 2 ** (n - 1);
  const base = Math.min(policy.maxMs, Math.max(policy.minMs, exponential));
  const random = opts.random ?? Math.random;
  const jittered = Math.round(base * (1 - policy.jitter * random()));
  // A server's Retry-After is a floor: coming back sooner only earns another refusal.
  return Math.max(jittered, opts.retryAfterMs ?? 0);
}

/** The attempt counter after a connection ended: reset only if it had stayed up long enough. */
export function nextAttempt(policy: BackoffPolicy, attempt: number, connectedForMs: number | null): number {
  if (connectedForMs !== null && connectedForMs >= policy.stableAfterMs) return 1;
  return attempt + 1;
}
