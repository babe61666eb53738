import { parseEmailType } from "@/lib/email/email-type";
import { saveOrganisationMailbox } from "@/lib/mailboxes/organisation-settings";
import { organisationMailboxSchema } from "@/lib/mailboxes/settings-schema";
import { parseJson, withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

type Params = { email_type: string };

/**
 * Issue 18: connects an organisation mailbox without a user sign-in: app-only Microsoft Graph
 * (client credentials) or Google Workspace domain-wide delegation. The credentials are tried once
 * before saving; the client secret and the service account key are stored encrypted, never returned.
 */
export const PUT = withRoute<Params>({ auth: "admin" }, async ({ req, params, tenantId, log }) => {
  const emailType = parseEmailType(params.email_type);
  const input = await parseJson(req, organisationMailboxSchema);
  const config = await saveOrganisationMailbox({ tenantId, emailType, input });
  log.info({ event: "mailbox_saved", email_type: emailType, mailbox_kind: input.mailbox_kind }, "organisation mailbox saved");
  return Response.json(config);
});
