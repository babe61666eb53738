import { validationError } from "@/lib/errors";
import { withRoute } from "@/lib/http/route";
import { listTenantDeliveries } from "@/lib/webhooks/endpoints";
import { deliveryListQuerySchema } from "@/lib/webhooks/webhook-input";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const GET = withRoute({ auth: "admin" }, async ({ req, tenantId }) => {
  const parsed = deliveryListQuerySchema.safeParse(Object.fromEntries(new URL(req.url).searchParams));
  if (!parsed.success) throw validationError(parsed.error);
  const deliveries = await listTenantDeliveries({ tenantId, limit: parsed.data.limit, ...(parsed.data.status ? { status: parsed.data.status } : {}) });
  return Response.json({ deliveries });
});
