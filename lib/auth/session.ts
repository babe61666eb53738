import { createHash, randomBytes } from "node:crypto";
import {
  createSession,
  deleteSession,
  extendSession,
  findSessionWithUser,
} from "@/lib/db/queries/sessions";
import type { User } from "@/lib/db/schema";
import { getEnv } from "@/lib/env";

export const SESSION_COOKIE = "mb_session";

export type SessionUser = { id: string; email: string; role: User["role"] };
export type SessionTenant = { id: string; name: string };

export type ValidatedSession = {
  sessionId: string;
  user: SessionUser;
  tenant: SessionTenant;
  expiresAt: Date;
  /** True when this validation moved the expiry forward: the caller should re-send the cookie. */
  renewed: boolean;
};

// 32 random bytes in base64url, no padding.
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

function sessionTtlMs(): number {
  return getEnv().SESSION_TTL_HOURS * 60 * 60 * 1000;
}

/** The database keeps only this hash, so a leaked sessions table can't be replayed as cookies. */
export function hashSessionToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function generateSessionToken(): string {
  return randomBytes(32).toString("base64url");
}

export async function createUserSession(params: { userId: string }): Promise<{ token: string; expiresAt: Date }> {
  const token = generateSessionToken();
  const expiresAt = new Date(Date.now() + sessionTtlMs());
  await createSession({ id: hashSessionToken(token), userId: params.userId, expiresAt });
  return { token, expiresAt };
}

/**
 * The session behind a cookie token, or null. With `renew` (the default) a session with less than
 * half its TTL left is extended, so an admin who keeps working is not logged out mid-task; pages that
 * can't set cookies pass `renew: false`, because the browser drops the cookie at its own expiry.
 */
export async function validateSessionToken(
  token: string | undefined | null,
  options: { renew?: boolean } = {},
): Promise<ValidatedSession | null> {
  if (!token || !TOKEN_PATTERN.test(token)) return null;
  const sessionId = hashSessionToken(token);
  const found = await findSessionWithUser({ sessionId });
  if (!found) return null;

  let expiresAt = found.session.expiresAt;
  let renewed = false;
  const ttl = sessionTtlMs();
  if ((options.renew ?? true) && expiresAt.getTime() - Date.now() < ttl / 2) {
    expiresAt = new Date(Date.now() + ttl);
    await extendSession({ sessionId, expiresAt });
    renewed = true;
  }
  return {
    sessionId,
    user: { id: found.user.id, email: found.user.email, role: found.user.role },
    tenant: { id: found.tenant.id, name: found.tenant.name },
    expiresAt,
    renewed,
  };
}

/** Logout: the token stops working at once, whatever the cookie's expiry says. */
export async function deleteUserSession(token: string | undefined | null): Promise<void> {
  if (!token || !TOKEN_PATTERN.test(token)) return;
  await deleteSession({ sessionId: hashSessionToken(token) });
}

/**
 * Set-Cookie values in one place so login, renewal and logout agree. httpOnly keeps scripts away
 * from the token; SameSite=Lax keeps it off cross-site POSTs; Secure whenever the app is served
 * over https (plain http is only for localhost development).
 */
export function serializeSessionCookie(token: string, expiresAt: Date): string {
  const maxAge = Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
  return [
    `${SESSION_COOKIE}=${token}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Lax",
    `Max-Age=${maxAge}`,
    `Expires=${expiresAt.toUTCString()}`,
    ...(isSecureAppUrl() ? ["Secure"] : []),
  ].join("; ");
}

export function serializeClearedSessionCookie(): string {
  return [
    `${SESSION_COOKIE}=`,
    "Path=/",
    "HttpOnly",
    "SameSite=Lax",
    "Max-Age=0",
    "Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    ...(isSecureAppUrl() ? ["Secure"] : []),
  ].join("; ");
}

function isSecureAppUrl(): boolean {
  return new URL(getEnv().APP_URL).protocol === "https:";
}
