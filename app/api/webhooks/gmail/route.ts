import { z } from "zod";
import { receiveGmailPush, verifyGmailPushToken } from "@/lib/email/gmail/gmail-push";
import { getEnv } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { parseJson, withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/**
 * Gmail push via a Pub/Sub push subscription with authentication (OIDC token). 204 acknowledges the
 * message; Pub/Sub redelivers on anything else, so only our own outages answer 5xx.
 */
export const POST = withRoute({ auth: "none" }, async ({ req, log }) => {
  const env = getEnv();
  if (!env.GMAIL_PUSH_SERVICE_ACCOUNT) throw new AppError(404, "push_not_configured", "Gmail push notifications are not configured on this server.");
  await verifyGmailPushToken({
    authorization: req.headers.get("authorization"),
    auth: {
      audience: env.GMAIL_PUSH_AUDIENCE ?? `${env.APP_URL}/api/webhooks/gmail`,
      serviceAccount: env.GMAIL_PUSH_SERVICE_ACCOUNT,
      jwksUrl: env.GOOGLE_OIDC_JWKS_URL,
      issuer: env.GOOGLE_OIDC_ISSUER,
    },
  });
  const { mailboxes } = await receiveGmailPush({ body: await parseJson(req, z.unknown()) });
  log.debug({ mailboxes }, "gmail push received");
  return new Response(null, { status: 204 });
});
