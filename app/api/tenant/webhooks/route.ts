import { parseJson, withRoute } from "@/lib/http/route";
import { createTenantWebhook, listTenantWebhooks } from "@/lib/webhooks/endpoints";
import { createWebhookSchema } from "@/lib/webhooks/webhook-input";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const GET = withRoute({ auth: "admin" }, async ({ tenantId }) => Response.json({ endpoints: await listTenantWebhooks({ tenantId }) }));

/** The answer carries the signing secret: the only time it is ever shown. */
export const POST = withRoute({ auth: "admin" }, async ({ req, tenantId, log }) => {
  const input = await parseJson(req, createWebhookSchema);
  const created = await createTenantWebhook({
    tenantId,
    url: input.url,
    eventTypes: input.event_types,
    inlineRawMaxBytes: input.inline_raw_max_bytes,
  });
  log.info({ event: "webhook_created", endpointId: created.endpoint.id }, "webhook endpoint created");
  return Response.json(created, { status: 201, headers: { "cache-control": "no-store" } });
});
