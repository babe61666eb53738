import { notFound } from "@/lib/errors";
import { withRoute } from "@/lib/http/route";
import { rotateTenantWebhookSecret } from "@/lib/webhooks/endpoints";
import { uuidSchema } from "@/lib/webhooks/webhook-input";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** A new secret, shown once; deliveries from now on are signed with it. */
export const POST = withRoute<{ id: string }>({ auth: "admin" }, async ({ params, tenantId, log }) => {
  if (!uuidSchema.safeParse(params.id).success) throw notFound("The webhook");
  const { secret } = await rotateTenantWebhookSecret({ tenantId, endpointId: params.id });
  log.info({ event: "webhook_secret_rotated", endpointId: params.id }, "webhook secret rotated");
  return Response.json({ secret }, { headers: { "cache-control": "no-store" } });
});
