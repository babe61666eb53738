import { describeCause } from "@/lib/email/api/api-http";
import { MailError } from "./provider";

/**
 * When the API providers renew their push registrations. Pure so the rules are pinned by tests.
 *
 * Gmail: a users.watch lasts 7 days and Google asks for a renewal at least once a day, so the watch
 * is renewed a day after the last call, or an hour before it expires if that comes first (a renewal
 * that failed for a day must not let it lapse).
 * Graph: a subscription is renewed once half its lifetime has passed, which leaves the other half
 * for retries when Graph is throttling or down.
 */
export const GMAIL_WATCH_RENEW_AFTER_MS = 24 * 3600 * 1000;
export const GMAIL_WATCH_EXPIRY_MARGIN_MS = 3600 * 1000;
/** After a failed renewal the next try waits this long (polling carries on meanwhile). */
export const PUSH_RETRY_AFTER_FAILURE_MS = 15 * 60 * 1000;

export function isGmailWatchDue({
  now,
  renewedAt,
  expiresAt,
}: {
  now: number;
  renewedAt: number | undefined;
  expiresAt: number | undefined;
}): boolean {
  if (renewedAt === undefined || expiresAt === undefined) return true;
  return now - renewedAt >= GMAIL_WATCH_RENEW_AFTER_MS || expiresAt - now <= GMAIL_WATCH_EXPIRY_MARGIN_MS;
}

export function isGraphSubscriptionDue({
  now,
  expiresAt,
  lifetimeMs,
}: {
  now: number;
  expiresAt: number | undefined;
  lifetimeMs: number;
}): boolean {
  if (expiresAt === undefined) return true;
  return expiresAt - now <= lifetimeMs / 2;
}

/** While push is in force, change polling is only the safety net and slows to the fallback interval. */
export function pollIntervalWithPush({
  pollIntervalMs,
  push,
  pushActive,
}: {
  pollIntervalMs: number;
  push: { fallbackPollIntervalMs: number } | undefined;
  pushActive: boolean;
}): number {
  return push && pushActive ? Math.max(pollIntervalMs, push.fallbackPollIntervalMs) : pollIntervalMs;
}

/** A stored ISO timestamp (sync_state) as epoch ms; anything unreadable counts as absent. */
export function parseStoredTime(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * A push registration that failed costs only push (polling goes on), unless the connection is
 * closing or the grant is dead: those end the connection like any other call. Returns the log
 * fields for a failure that only costs push, or null when the error must be rethrown.
 */
export function pushFailureLogFields(err: unknown, signal: AbortSignal | undefined): Record<string, unknown> | null {
  if (signal?.aborted) return null;
  if (err instanceof MailError && err.code === "needs_reauth") return null;
  const detail = err instanceof MailError ? { code: err.code, message: err.message, cause: err.options.cause } : describeCause(err);
  return { event: "push_unavailable", err: detail };
}
