import { getTenantMailboxConfigs } from "@/lib/mailboxes/mailbox-settings";
import { withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const GET = withRoute({ auth: "session" }, async ({ tenantId }) =>
  Response.json(await getTenantMailboxConfigs({ tenantId })),
);
