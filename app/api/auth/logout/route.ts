import { SESSION_COOKIE, deleteUserSession } from "@/lib/auth/session";
import { clearSessionCookie, readCookie, withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

// "none": logging out with an expired or unknown cookie still succeeds and clears the cookie.
// The Origin check still applies, so another site can't log a user out.
export const POST = withRoute({ auth: "none" }, async ({ req }) => {
  await deleteUserSession(readCookie(req, SESSION_COOKIE));
  return clearSessionCookie(new Response(null, { status: 204 }));
});
