import { SESSION_COOKIE, validateSessionToken } from "@/lib/auth/session";
import { getEnv } from "@/lib/env";
import { readCookie, withRoute } from "@/lib/http/route";
import { renderCallbackPage, toMessage } from "@/lib/oauth/callback-page";
import { completeAuthorization } from "@/lib/oauth/flow";
import { oauthProviderSchema } from "@/lib/oauth/providers";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

function wantsJson(req: Request): boolean {
  const accept = req.headers.get("accept") ?? "";
  return accept.includes("application/json") && !accept.includes("text/html");
}

/**
 * Where the provider sends the browser back. Public at the routing level so that every outcome,
 * including "not logged in", reaches the popup as a page it can report; the session is checked
 * here and must be the one that started the flow (seed §7.2).
 */
export const GET = withRoute<{ provider: string }>({ auth: "none" }, async ({ req, params, log }) => {
  const provider = oauthProviderSchema.safeParse(params.provider);
  if (!provider.success) {
    return Response.json({ error: { code: "unknown_provider", message: 'The OAuth provider must be "google" or "microsoft".' } }, { status: 404 });
  }
  const validated = await validateSessionToken(readCookie(req, SESSION_COOKIE), { renew: false });
  const result = await completeAuthorization({
    provider: provider.data,
    query: new URL(req.url).searchParams,
    session: validated ? { sessionId: validated.sessionId, tenantId: validated.tenant.id } : null,
    log: validated ? log.child({ tenantId: validated.tenant.id, userId: validated.user.id }) : log,
  });
  const msg = toMessage(result, provider.data);
  if (wantsJson(req)) {
    const { type: _type, id: _id, ...body } = msg;
    return Response.json(
      result.success ? body : { ...body, error: { code: result.code ?? "oauth_failed", message: result.message } },
      { status: result.status, headers: { "cache-control": "no-store" } },
    );
  }
  return renderCallbackPage(msg, { appOrigin: new URL(getEnv().APP_URL).origin, status: result.status });
});
