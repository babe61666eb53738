import { retryTenantMessage } from "@/lib/mailboxes/message-views";
import { withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const POST = withRoute<{ id: string }>({ auth: "admin" }, async ({ params, tenantId }) => {
  await retryTenantMessage({ tenantId, messageId: params.id });
  return Response.json({ status: "queued" }, { status: 202 });
});
