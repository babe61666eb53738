import { notFound } from "@/lib/errors";
import { withRoute } from "@/lib/http/route";
import { replayTenantDelivery } from "@/lib/webhooks/endpoints";
import { uuidSchema } from "@/lib/webhooks/webhook-input";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const POST = withRoute<{ id: string }>({ auth: "admin" }, async ({ params, tenantId }) => {
  if (!uuidSchema.safeParse(params.id).success) throw notFound("The delivery");
  await replayTenantDelivery({ tenantId, deliveryId: params.id });
  return Response.json({ status: "pending" }, { status: 202 });
});
