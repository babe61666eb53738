import { z } from "zod";
import { parseEmailType } from "@/lib/email/email-type";
import { parseJson, withRoute } from "@/lib/http/route";
import { disconnectOAuth } from "@/lib/oauth/flow";
import { parseOAuthProvider } from "@/lib/oauth/providers";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

const bodySchema = z.object({ email_type: z.string().optional() }).optional();

/** Revokes at the provider where it can (Google), erases the tokens and stops the watcher for the mailbox. */
export const DELETE = withRoute<{ provider: string }>({ auth: "admin" }, async ({ req, params, tenantId, log }) => {
  const provider = parseOAuthProvider(params.provider);
  const body = (await parseJson(req, bodySchema)) ?? {};
  const emailType = parseEmailType(body.email_type ?? new URL(req.url).searchParams.get("email_type") ?? undefined);
  return Response.json(await disconnectOAuth({ provider, tenantId, emailType, log }));
});
