import { z } from "zod";
import { handleGraphValidation, receiveGraphNotifications } from "@/lib/email/graph/graph-notifications";
import { getEnv } from "@/lib/env";
import { parseJson, withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/**
 * Microsoft Graph change and lifecycle notifications (one URL for both). Graph's validation
 * request is answered with the token as text/plain; notifications with 202 within Graph's 3 s,
 * whatever they contained, after waking the owning watchers.
 */
export const POST = withRoute({ auth: "none" }, async ({ req, log }) => {
  const validationToken = handleGraphValidation(new URL(req.url));
  if (validationToken !== null) {
    return new Response(validationToken, {
      status: 200,
      headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" },
    });
  }
  const outcome = await receiveGraphNotifications({ body: await parseJson(req, z.unknown()), secret: getEnv().SESSION_SECRET });
  if (outcome.ignored > 0) log.info(outcome, "graph notifications ignored (unknown subscription or wrong clientState)");
  return new Response(null, { status: 202 });
});
