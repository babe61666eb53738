import { notFound } from "@/lib/errors";
import { getRawSourceById } from "@/lib/db/queries/webhooks";
import { getEnv } from "@/lib/env";
import { withRoute } from "@/lib/http/route";
import { rawSourceResponse } from "@/lib/http/raw-source-response";
import { isValidRawLinkToken } from "@/lib/webhooks/secret";
import { rawLinkQuerySchema, uuidSchema } from "@/lib/webhooks/webhook-input";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/**
 * The raw-source link of a message.received webhook: no session (the downstream system has none),
 * the signed, expiring token in the URL is the authorisation, and it names exactly one message.
 */
export const GET = withRoute<{ id: string }>({ auth: "none" }, async ({ req, params }) => {
  const query = rawLinkQuerySchema.safeParse(Object.fromEntries(new URL(req.url).searchParams));
  if (!uuidSchema.safeParse(params.id).success || !query.success) throw notFound("The message");
  const { expires, token } = query.data;
  if (!isValidRawLinkToken({ key: getEnv().SESSION_SECRET, messageId: params.id, expires, token })) throw notFound("The message");
  const message = await getRawSourceById({ messageId: params.id });
  if (!message) throw notFound("The message");
  return rawSourceResponse(message);
});
