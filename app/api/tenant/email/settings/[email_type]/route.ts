import { parseEmailType } from "@/lib/email/email-type";
import { removeMailboxSettings, saveMailboxSettings } from "@/lib/mailboxes/mailbox-settings";
import { forwardingSettingsSchema, isForwardingBody, mailboxSettingsSchema } from "@/lib/mailboxes/settings-schema";
import { saveForwardingSettings } from "@/lib/mailboxes/forwarding-settings";
import { z } from "zod";
import { parseJson, withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

type Params = { email_type: string };

export const PUT = withRoute<Params>({ auth: "admin" }, async ({ req, params, tenantId, log }) => {
  const emailType = parseEmailType(params.email_type);
  const body = await parseJson(req, z.looseObject({}));
  if (isForwardingBody(body)) {
    const forwarding = await saveForwardingSettings({ tenantId, emailType, input: forwardingSettingsSchema.parse(body) });
    log.info({ event: "mailbox_saved", email_type: emailType, access: "forwarding" }, "mailbox settings saved");
    return Response.json(forwarding);
  }
  const input = mailboxSettingsSchema.parse(body);
  const config = await saveMailboxSettings({ tenantId, emailType, input });
  log.info({ event: "mailbox_saved", email_type: emailType, host: config.host }, "mailbox settings saved");
  return Response.json(config);
});

export const DELETE = withRoute<Params>({ auth: "admin" }, async ({ params, tenantId, log }) => {
  const emailType = parseEmailType(params.email_type);
  await removeMailboxSettings({ tenantId, emailType });
  log.info({ event: "mailbox_removed", email_type: emailType }, "mailbox removed");
  return new Response(null, { status: 204 });
});
