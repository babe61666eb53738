import { z } from "zod";
import { parseEmailType } from "@/lib/email/email-type";
import { parseJson, withRoute } from "@/lib/http/route";
import { startAuthorization } from "@/lib/oauth/flow";
import { parseAccess, parseOAuthProvider } from "@/lib/oauth/providers";
import { sharedMailboxAddressSchema } from "@/lib/mailboxes/settings-schema";
import { AppError } from "@/lib/errors";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/**
 * Seed §4.1 / API.md: `email_type` and `access` in the query or the JSON body. The optional
 * client_id / client_secret / tenant_id are the tenant's own app registration (kept encrypted with the
 * pending flow, saved on the mailbox once connected, never returned); client_id null = platform app.
 */
const bodySchema = z
  .object({
    email_type: z.string().optional(),
    access: z.string().optional(),
    client_id: z.string().trim().max(255).nullable().optional(),
    client_secret: z.string().max(1024).nullable().optional(),
    tenant_id: z.string().trim().max(100).nullable().optional(),
    /** Issue 18: "shared" with shared_address = a Microsoft 365 shared mailbox read through this sign-in. */
    mailbox_kind: z.enum(["own", "shared"]).optional(),
    shared_address: sharedMailboxAddressSchema.optional(),
  })
  .optional();

export const POST = withRoute<{ provider: string }>({ auth: "admin" }, async ({ req, params, tenantId, session, log }) => {
  const provider = parseOAuthProvider(params.provider);
  const body = (await parseJson(req, bodySchema)) ?? {};
  const query = new URL(req.url).searchParams;
  const emailType = parseEmailType(body.email_type ?? query.get("email_type") ?? undefined);
  const access = parseAccess(provider, body.access ?? query.get("access") ?? undefined);
  if (body.mailbox_kind === "shared" && !body.shared_address) {
    throw new AppError(400, "validation_failed", "Some fields are invalid.", { fields: { shared_address: "Enter the shared mailbox's email address." } });
  }
  const result = await startAuthorization({
    provider,
    tenantId,
    sessionId: session.sessionId,
    emailType,
    access,
    app: { client_id: body.client_id, client_secret: body.client_secret, tenant_id: body.tenant_id },
    sharedAddress: body.mailbox_kind === "shared" ? body.shared_address : undefined,
  });
  log.info({ event: "oauth_authorize", provider, email_type: emailType, access, custom_app: body.client_id != null }, "oauth authorization started");
  return Response.json(result, { headers: { "cache-control": "no-store" } });
});
