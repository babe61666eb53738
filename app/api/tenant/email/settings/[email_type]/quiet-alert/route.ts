import { quietAlertSchema } from "@/lib/alerts/alert-schemas";
import { setMailboxQuietAlert } from "@/lib/db/queries/mailboxes";
import { parseEmailType } from "@/lib/email/email-type";
import { notFound } from "@/lib/errors";
import { parseJson, withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** Turns the quiet-mailbox warning of one mailbox on or off. */
export const PUT = withRoute<{ email_type: string }>({ auth: "admin" }, async ({ req, params, tenantId }) => {
  const { enabled } = await parseJson(req, quietAlertSchema);
  const ok = await setMailboxQuietAlert({ tenantId, purpose: parseEmailType(params.email_type), enabled });
  if (!ok) throw notFound("Mailbox");
  return Response.json({ quiet_alert: enabled });
});
