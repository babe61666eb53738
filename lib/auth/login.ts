import {
  clearFailedLogins,
  countRecentFailedLogins,
  deleteOldFailedLogins,
  findLimitingFailedLogin,
  recordFailedLogin,
} from "@/lib/db/queries/login-attempts";
import { deleteExpiredSessions } from "@/lib/db/queries/sessions";
import { findUserByEmail } from "@/lib/db/queries/users";
import { AppError } from "@/lib/errors";
import { getLogger } from "@/lib/logger";
import { verifyDummyPassword, verifyPassword } from "./password";
import { createUserSession, type SessionTenant, type SessionUser } from "./session";

export const LOGIN_WINDOW_MS = 15 * 60 * 1000;
export const MAX_FAILURES_PER_EMAIL = 5;
export const MAX_FAILURES_PER_CLIENT = 20;

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

const invalidCredentials = (): AppError =>
  new AppError(401, "invalid_credentials", "Email or password is incorrect.");

/** Throws RateLimitedError when a key has used up its failures in the current window. */
async function assertNotRateLimited(keys: { key: string; limit: number }[]): Promise<void> {
  const since = new Date(Date.now() - LOGIN_WINDOW_MS);
  let retryAt = 0;
  for (const { key, limit } of keys) {
    if ((await countRecentFailedLogins({ key, since })) < limit) continue;
    const limiting = await findLimitingFailedLogin({ key, since, limit });
    const until = (limiting?.getTime() ?? Date.now()) + LOGIN_WINDOW_MS;
    retryAt = Math.max(retryAt, until);
  }
  if (retryAt > 0) throw new RateLimitedError(Math.max(1, Math.ceil((retryAt - Date.now()) / 1000)));
}

/**
 * Checks the password and opens a session. Failures count against both the email (an account under
 * attack) and the client address (one client trying many accounts); a blocked key is refused before
 * the password is even checked, so a correct guess inside the block gains nothing.
 */
export async function loginWithPassword(params: {
  email: string;
  password: string;
  clientKey: string;
}): Promise<LoginResult> {
  const emailKey = emailRateLimitKey(params.email);
  const clientKey = clientRateLimitKey(params.clientKey);
  await assertNotRateLimited([
    { key: emailKey, limit: MAX_FAILURES_PER_EMAIL },
    { key: clientKey, limit: MAX_FAILURES_PER_CLIENT },
  ]);

  const user = await findUserByEmail({ email: params.email });
  const valid = user
    ? await verifyPassword({ hash: user.passwordHash, password: params.password })
    : await verifyDummyPassword(params.password);

  if (!user || !valid) {
    await recordFailedLogin({ key: emailKey });
    await recordFailedLogin({ key: clientKey });
    throw invalidCredentials();
  }
  // Only after the password proved the account is theirs: telling a stranger that an account is
  // deactivated would leak that it exists.
  if (!user.tenant.isActive) {
    throw new AppError(403, "tenant_inactive", "This account has been deactivated.");
  }

  // The client key is not cleared: one valid account must not reset a client's budget for others.
  await clearFailedLogins({ key: emailKey });
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
