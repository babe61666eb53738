import { loginSchema } from "@/lib/auth/login-schema";
import { loginWithPassword } from "@/lib/auth/login";
import { getClientAddress, parseJson, setSessionCookie, withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const POST = withRoute({ auth: "none" }, async ({ req, log }) => {
  const input = await parseJson(req, loginSchema);
  const result = await loginWithPassword({ ...input, clientKey: getClientAddress(req) });
  log.info({ userId: result.user.id, tenantId: result.tenant.id }, "user logged in");
  const res = Response.json({ user: result.user, tenant: result.tenant });
  return setSessionCookie(res, result.token, result.expiresAt);
});
