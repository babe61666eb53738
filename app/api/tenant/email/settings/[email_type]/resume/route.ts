import { resumeMailbox } from "@/lib/db/queries/mailboxes";
import { parseEmailType } from "@/lib/email/email-type";
import { notFound } from "@/lib/errors";
import { withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** "Try again": a paused (or failing) mailbox reconnects now with a fresh count of sign-in failures. */
export const POST = withRoute<{ email_type: string }>({ auth: "admin" }, async ({ params, tenantId }) => {
  const row = await resumeMailbox({ tenantId, purpose: parseEmailType(params.email_type) });
  if (!row) throw notFound("Mailbox");
  return Response.json({ status: row.status });
});
