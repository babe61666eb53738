import { getTenantMessage, toMessageDetail } from "@/lib/mailboxes/message-views";
import { withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const GET = withRoute<{ id: string }>({ auth: "session" }, async ({ params, tenantId }) =>
  Response.json(toMessageDetail(await getTenantMessage({ tenantId, messageId: params.id }))),
);
