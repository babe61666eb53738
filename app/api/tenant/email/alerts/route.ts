import { listActiveAlertNotices } from "@/lib/db/queries/mailbox-alerts";
import { withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** The alerts the tenant's admins were mailed and that still hold: the settings page shows the same. */
export const GET = withRoute({ auth: "session" }, async ({ tenantId }) => {
  const notices = await listActiveAlertNotices({ tenantId });
  return Response.json({
    notices: notices.map((n) => ({ email_type: n.purpose, kind: n.kind, code: n.code, since: n.since?.toISOString() ?? null, status: n.status })),
  });
});
