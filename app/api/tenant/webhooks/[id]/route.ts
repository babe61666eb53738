import { notFound } from "@/lib/errors";
import { parseJson, withRoute } from "@/lib/http/route";
import { deleteTenantWebhook, updateTenantWebhook } from "@/lib/webhooks/endpoints";
import { updateWebhookSchema, uuidSchema } from "@/lib/webhooks/webhook-input";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

type Params = { id: string };

function endpointId(id: string): string {
  if (!uuidSchema.safeParse(id).success) throw notFound("The webhook");
  return id;
}

export const PATCH = withRoute<Params>({ auth: "admin" }, async ({ req, params, tenantId }) => {
  const input = await parseJson(req, updateWebhookSchema);
  const endpoint = await updateTenantWebhook({
    tenantId,
    endpointId: endpointId(params.id),
    fields: {
      ...(input.url !== undefined ? { url: input.url } : {}),
      ...(input.event_types !== undefined ? { eventTypes: input.event_types } : {}),
      ...(input.inline_raw_max_bytes !== undefined ? { inlineRawMaxBytes: input.inline_raw_max_bytes } : {}),
      ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
    },
  });
  return Response.json({ endpoint });
});

export const DELETE = withRoute<Params>({ auth: "admin" }, async ({ params, tenantId }) => {
  await deleteTenantWebhook({ tenantId, endpointId: endpointId(params.id) });
  return new Response(null, { status: 204 });
});
