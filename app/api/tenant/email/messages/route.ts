import { listMessagesQuerySchema, listTenantMessages } from "@/lib/mailboxes/message-views";
import { withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const GET = withRoute({ auth: "session" }, async ({ req, tenantId }) => {
  const params = Object.fromEntries(new URL(req.url).searchParams);
  const query = listMessagesQuerySchema.parse(params);
  return Response.json(await listTenantMessages({ tenantId, query }));
});
