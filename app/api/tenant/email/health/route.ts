import { getTenantMailboxHealth } from "@/lib/mailboxes/mailbox-health";
import { withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const GET = withRoute({ auth: "session" }, async ({ tenantId }) =>
  Response.json(await getTenantMailboxHealth({ tenantId })),
);
