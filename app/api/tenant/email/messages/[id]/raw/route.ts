import { getTenantMessage } from "@/lib/mailboxes/message-views";
import { withRoute } from "@/lib/http/route";
import { rawSourceResponse } from "@/lib/http/raw-source-response";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const GET = withRoute<{ id: string }>({ auth: "session" }, async ({ params, tenantId }) => {
  return rawSourceResponse(await getTenantMessage({ tenantId, messageId: params.id }));
});
