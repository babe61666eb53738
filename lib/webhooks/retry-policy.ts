export type WebhookRetryPolicy = { baseMs: number; maxMs: number; windowMs: number };

/**
 * When attempt `attempt` (0-based, just failed) is tried again: base * 2^attempt capped at max, with
 * +-25 % jitter so a receiver that comes back is not hit by every delivery in the same second.
 * null once the next try would fall outside the retry window (the delivery is then failed).
 */
export function nextWebhookAttemptAt({
  policy,
  attempt,
  windowStartedAt,
  now,
  random = Math.random,
}: {
  policy: WebhookRetryPolicy;
  attempt: number;
  windowStartedAt: Date;
  now: Date;
  random?: () => number;
}): Date | null {
  const exponential = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  const delay = Math.round(exponential * (0.75 + 0.5 * random()));
  const at = now.getTime() + delay;
  if (at > windowStartedAt.getTime() + policy.windowMs) return null;
  return new Date(at);
}
