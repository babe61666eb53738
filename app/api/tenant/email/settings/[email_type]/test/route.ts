import { parseEmailType } from "@/lib/email/email-type";
import { mailboxTestSchema } from "@/lib/mailboxes/settings-schema";
import { parseJson, withRoute } from "@/lib/http/route";
import { testMailboxConnection } from "@/lib/mailboxes/check-organisation-mailbox";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const POST = withRoute<{ email_type: string }>({ auth: "admin" }, async ({ req, params, tenantId }) => {
  const emailType = parseEmailType(params.email_type);
  const hasBody = (req.headers.get("content-length") ?? "0") !== "0" || req.headers.has("transfer-encoding");
  const input = hasBody ? await parseJson(req, mailboxTestSchema) : {};
  return Response.json(await testMailboxConnection({ tenantId, emailType, input }));
});
