import { setTimeout as sleep } from "node:timers/promises";
import { admitLoginAttempt, clearFailedLogins, deleteLoginAttempts, deleteOldFailedLogins } from "@/lib/db/queries/login-attempts";
import { deleteExpiredSessions } from "@/lib/db/queries/sessions";
import { findUserByEmail } from "@/lib/db/queries/users";
import { AppError } from "@/lib/errors";
import { getLogger, maskEmail } from "@/lib/logger";
import { verifyDummyPassword, verifyPassword } from "./password";
import { createUserSession, type SessionTenant, type SessionUser } from "./session";

export const LOGIN_WINDOW_MS = 15 * 60 * 1000;
/** Wrong passwords for one account from one client address: then that pair is refused. */
export const MAX_FAILURES_PER_PAIR = 5;
/** Attempts from one client address on any accounts: bounds the argon2 work one client can cause. */
export const MAX_FAILURES_PER_CLIENT = 20;
/**
 * Failures for one account from all clients together never block it (a stranger could lock the
 * admin out); past this many, each attempt on it waits a little longer, up to the cap.
 */
export const EMAIL_SLOWDOWN_AFTER = 5;
export const EMAIL_SLOWDOWN_MAX_MS = 4000;

/** 429 with a Retry-After header; AppError itself carries no headers. */
export class RateLimitedError extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, "rate_limited", "Too many failed login attempts. Please try again later.", {
      retry_after_seconds: retryAfterSeconds,
    });
  }

  override toResponse(): Response {
    const res = super.toResponse();
    res.headers.set("Retry-After", String(this.retryAfterSeconds));
    return res;
  }
}

export type LoginResult = { user: SessionUser; tenant: SessionTenant; token: string; expiresAt: Date };

export function emailRateLimitKey(email: string): string {
  return `email:${email.trim().toLowerCase()}`;
}

export function clientRateLimitKey(clientKey: string): string {
  return `client:${clientKey}`;
}

export function pairRateLimitKey(email: string, clientKey: string): string {
  return `pair:${clientKey}|${email.trim().toLowerCase()}`;
}

/** The wait before checking a password for an account that has had `failures` recent failures. */
export function emailSlowdownMs(failures: number): number {
  if (failures < EMAIL_SLOWDOWN_AFTER) return 0;
  return Math.min(EMAIL_SLOWDOWN_MAX_MS, 250 * 2 ** (failures - EMAIL_SLOWDOWN_AFTER));
}

const invalidCredentials = (): AppError =>
  new AppError(401, "invalid_credentials", "Email or password is incorrect.");

/**
 * Checks the password and opens a session. The attempt is counted before the password is checked
 * and atomically with that count (admitLoginAttempt), so parallel guesses cannot all slip under a
 * limit. Limits: per (email, client) pair and per client, both refused with 429 before any argon2
 * work; per email only a growing delay, so guesses from elsewhere cannot keep the real admin out.
 */
export async function loginWithPassword(params: {
  email: string;
  password: string;
  clientKey: string;
}): Promise<LoginResult> {
  const emailKey = emailRateLimitKey(params.email);
  const clientKey = clientRateLimitKey(params.clientKey);
  const pairKey = pairRateLimitKey(params.email, params.clientKey);
  const admission = await admitLoginAttempt({
    keys: [
      { key: pairKey, limit: MAX_FAILURES_PER_PAIR },
      { key: clientKey, limit: MAX_FAILURES_PER_CLIENT },
      { key: emailKey, limit: null },
    ],
    since: new Date(Date.now() - LOGIN_WINDOW_MS),
    windowMs: LOGIN_WINDOW_MS,
  });
  if (!admission.admitted) {
    getLogger().info({ event: "login_rate_limited", account: maskEmail(params.email) }, "login refused by the rate limit");
    throw new RateLimitedError(Math.max(1, Math.ceil((admission.retryAt.getTime() - Date.now()) / 1000)));
  }
  const delay = emailSlowdownMs(admission.counts.get(emailKey) ?? 0);
  if (delay > 0) await sleep(delay);

  const user = await findUserByEmail({ email: params.email });
  const valid = user
    ? await verifyPassword({ hash: user.passwordHash, password: params.password })
    : await verifyDummyPassword(params.password);

  // The recorded attempt stays as the failure.
  if (!user || !valid) throw invalidCredentials();
  // Only after the password proved the account is theirs: telling a stranger that an account is
  // deactivated would leak that it exists.
  if (!user.tenant.isActive) {
    throw new AppError(403, "tenant_inactive", "This account has been deactivated.");
  }

  // The account's and this pair's failures end with a success; the client's other failures stay
  // (one valid account must not reset a client's budget for others), only this attempt is undone.
  await Promise.all([
    clearFailedLogins({ key: emailKey }),
    clearFailedLogins({ key: pairKey }),
    deleteLoginAttempts({ ids: [admission.attemptIds.get(clientKey)].filter((id): id is number => id !== undefined) }),
  ]);
  const session = await createUserSession({ userId: user.id });
  // Housekeeping piggybacks on logins instead of needing a scheduler.
  await Promise.all([
    deleteExpiredSessions(),
    deleteOldFailedLogins({ before: new Date(Date.now() - 2 * LOGIN_WINDOW_MS) }),
  ]).catch((err: unknown) => getLogger().warn({ err }, "login housekeeping failed"));
  return {
    user: { id: user.id, email: user.email, role: user.role },
    tenant: { id: user.tenant.id, name: user.tenant.name },
    token: session.token,
    expiresAt: session.expiresAt,
  };
}
