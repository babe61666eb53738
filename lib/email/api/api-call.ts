import type { Logger } from "pino";
import { MailError, type MailErrorCode } from "@/lib/email/provider";
import { abortableSleep, backoffDelay, describeCause } from "@/lib/email/api/api-http";

/**
 * The one call policy of the Gmail and Graph providers: 401 → one forced token refresh and a
 * retry, then needs_reauth; throttling, 5xx and network failures → up to maxAttempts tries,
 * sleeping for Retry-After or an exponential backoff with jitter. Each provider only says how one
 * try is sent and how its errors read.
 */

export type RetryPolicy = {
  /** Tries per API call for throttling, 5xx and network failures (the 401 refresh is extra). */
  maxAttempts: number;
  /** First backoff when the server gives no Retry-After; doubled per try, with jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not slept through: the caller gets rate_limited at once. */
  maxRetryAfterMs: number;
};

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 30_000, maxRetryAfterMs: 60_000 };

/** HTTP calls made (every try counts) and the quota units they cost. */
export type ApiUsage = { calls: number; quotaUnits: number };

/** Names in the user-facing messages and log lines: Google / Gmail / gmail, Microsoft / Microsoft Graph / graph. */
export type ApiService = { vendor: string; api: string; logName: string };

/** One failed try, as the provider's error reading sees it. */
export type ApiFailure =
  | { kind: "unauthorized"; cause: unknown }
  | { kind: "fatal"; error: MailError }
  | { kind: "retry"; code: MailErrorCode; message: string; retryAfterMs?: number; cause: unknown };

export type ApiAttempt<T> = { kind: "done"; value: T } | ApiFailure;

export type ApiStep = { action: "refresh" } | { action: "sleep"; delayMs: number } | { action: "throw"; error: MailError };

/** What the policy does after the `attempt`-th try (1-based, the 401 retry not counted) failed. */
export function nextApiStep(
  failure: ApiFailure,
  { attempt, refreshed, policy, service }: { attempt: number; refreshed: boolean; policy: RetryPolicy; service: ApiService },
): ApiStep {
  if (failure.kind === "unauthorized") {
    if (!refreshed) return { action: "refresh" };
    return {
      action: "throw",
      error: new MailError("needs_reauth", `${service.vendor} rejected the access token even after a refresh; reconnect the mailbox.`, {
        cause: failure.cause,
      }),
    };
  }
  if (failure.kind === "fatal") return { action: "throw", error: failure.error };
  const { retryAfterMs } = failure;
  const tooLong = retryAfterMs !== undefined && retryAfterMs > policy.maxRetryAfterMs;
  if (attempt >= policy.maxAttempts || tooLong) {
    const options: { cause?: unknown; retryAfterMs?: number } = { cause: failure.cause };
    if (retryAfterMs !== undefined) options.retryAfterMs = retryAfterMs;
    return { action: "throw", error: new MailError(failure.code, failure.message, options) };
  }
  return { action: "sleep", delayMs: retryAfterMs ?? backoffDelay(attempt, policy) };
}

export function connectionClosed(service: ApiService, err?: unknown): MailError {
  return new MailError("network", `The ${service.api} connection was closed.`, err === undefined ? {} : { cause: describeCause(err) });
}

/** The current (or, after a 401, a refreshed) token; a failure that is not already a MailError is a network one. */
export async function obtainAccessToken(
  getAccessToken: (opts?: { forceRefresh?: boolean }) => Promise<string>,
  forceRefresh: boolean,
  service: ApiService,
): Promise<string> {
  try {
    return await getAccessToken(forceRefresh ? { forceRefresh: true } : undefined);
  } catch (err) {
    if (err instanceof MailError) throw err;
    // Permanent refresh failures (invalid_grant) are the token manager's to report as needs_reauth.
    throw new MailError("network", `Could not obtain a ${service.vendor} access token.`, { cause: describeCause(err) });
  }
}

/**
 * Runs one API call under the policy. `attempt` sends one try with the token; whatever it throws
 * (unless the signal aborted) goes to `classifyThrown`. Every try counts `units` into usage.
 */
export async function runApiCall<T>(call: {
  service: ApiService;
  policy: RetryPolicy;
  signal: AbortSignal;
  usage: ApiUsage;
  units: number;
  getAccessToken: (opts?: { forceRefresh?: boolean }) => Promise<string>;
  attempt: (token: string, signal: AbortSignal) => Promise<ApiAttempt<T>>;
  classifyThrown: (err: unknown) => ApiAttempt<T>;
  /** What names the call in log lines (method or path; never a token or query). */
  logFields: Record<string, unknown>;
  log?: Logger | undefined;
}): Promise<T> {
  const { service, signal } = call;
  let refreshed = false;
  let attempt = 0;
  for (;;) {
    if (signal.aborted) throw connectionClosed(service);
    const token = await obtainAccessToken(call.getAccessToken, refreshed, service);
    attempt++;
    call.usage.calls++;
    call.usage.quotaUnits += call.units;
    let outcome: ApiAttempt<T>;
    try {
      outcome = await call.attempt(token, signal);
    } catch (err) {
      if (signal.aborted) throw connectionClosed(service, err);
      outcome = call.classifyThrown(err);
    }
    if (outcome.kind === "done") return outcome.value;
    const step = nextApiStep(outcome, { attempt, refreshed, policy: call.policy, service });
    if (step.action === "throw") throw step.error;
    if (step.action === "refresh") {
      refreshed = true;
      attempt--;
      call.log?.info(call.logFields, `${service.logName} answered 401; refreshing the access token once`);
      continue;
    }
    const reason = outcome.kind === "retry" ? outcome.message : undefined;
    call.log?.warn({ ...call.logFields, attempt, delayMs: step.delayMs, reason }, `${service.logName} call failed; retrying`);
    if (!(await abortableSleep(step.delayMs, signal))) throw connectionClosed(service);
  }
}
