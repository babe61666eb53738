import "server-only";
import { cookies } from "next/headers";
import { redirect } from "next/navigation";
import { SESSION_COOKIE, validateSessionToken, type ValidatedSession } from "./session";

/**
 * The session of the browser rendering a server component, or null. Pages can't set cookies, so
 * no sliding renewal here: the API routes the page calls renew the session and its cookie.
 */
export async function getCurrentSession(): Promise<ValidatedSession | null> {
  const token = (await cookies()).get(SESSION_COOKIE)?.value;
  return validateSessionToken(token, { renew: false });
}

/** For pages that need a login: no session sends the browser to /login. */
export async function requirePageSession(): Promise<ValidatedSession> {
  const session = await getCurrentSession();
  if (!session) redirect("/login");
  return session;
}
