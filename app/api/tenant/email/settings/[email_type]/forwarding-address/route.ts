import { parseEmailType } from "@/lib/email/email-type";
import { regenerateForwardingAddress } from "@/lib/mailboxes/forwarding-settings";
import { withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

type Params = { email_type: string };

/** POST: a new forwarding address; the old one stops accepting mail at once. */
export const POST = withRoute<Params>({ auth: "admin" }, async ({ params, tenantId, log }) => {
  const emailType = parseEmailType(params.email_type);
  const config = await regenerateForwardingAddress({ tenantId, emailType });
  log.info({ event: "forwarding_address_regenerated", email_type: emailType }, "forwarding address regenerated");
  return Response.json(config);
});
