import type { Logger } from "pino";
import {
  listAlertRecipients,
  recordAlertDelivery,
  withUnmailedAlert,
  type AlertMailContext,
} from "@/lib/db/queries/mailbox-alerts";
import { getEnv } from "@/lib/env";
import { buildAlertEmail } from "./alert-email";
import { getAlertMailer, type AlertMailer } from "./alert-mailer";

type Tx = Parameters<Parameters<typeof withUnmailedAlert>[1]>[1];

/**
 * Mails one alert to every admin of the tenant who wants alert email, each in their language. A
 * recipient already mailed (recorded right after the SMTP server accepted) is skipped on a retry;
 * a send failure throws, so the alert stays unmailed and is tried again.
 */
async function mailAlert(ctx: AlertMailContext, tx: Tx, mailer: AlertMailer | null, log: Logger): Promise<number> {
  if (!mailer) {
    // No SMTP_URL / ALERT_FROM: the notice is in-app only.
    log.info({ event: "alert_in_app_only", alert_id: ctx.notification.id }, "alert not mailed: SMTP_URL / ALERT_FROM unset");
    return 0;
  }
  const { notification, mailbox } = ctx;
  const recipients = await listAlertRecipients(tx, { tenantId: notification.tenantId, notificationId: notification.id });
  const settingsUrl = `${getEnv().APP_URL}/settings/email`;
  let sent = 0;
  for (const r of recipients) {
    const mail = buildAlertEmail({
      locale: r.locale,
      kind: notification.kind,
      code: notification.code,
      tenantName: ctx.tenantName,
      purpose: mailbox?.purpose ?? "booking",
      address: mailbox ? (mailbox.oauthConnectedEmail ?? mailbox.address) : null,
      host: mailbox?.host ?? null,
      port: mailbox?.port ?? null,
      folder: mailbox?.folder ?? null,
      protocol: mailbox?.access ?? null,
      since: notification.kind === "failure" ? (ctx.failingSince ?? notification.createdAt) : notification.kind === "quiet" ? (ctx.lastReceivedAt ?? null) : null,
      now: notification.createdAt,
      settingsUrl,
    });
    await mailer.send({ to: r.email, subject: mail.subject, text: mail.text, headers: { "X-Alert-Id": notification.id, "X-Alert-Kind": notification.kind } });
    await recordAlertDelivery({ notificationId: notification.id, userId: r.id, email: r.email, locale: r.locale });
    sent++;
  }
  log.info({ event: "alert_mailed", alert_id: notification.id, kind: notification.kind, mailbox_id: notification.mailboxId, recipients: sent }, "alert mailed");
  return sent;
}

/** A queue job's work: mail this one alert (a no-op when it was mailed already). */
export async function deliverAlert({ notificationId, log }: { notificationId: string; log: Logger }): Promise<void> {
  const mailer = getAlertMailer();
  log.debug({ event: "alert_mail_job", alert_id: notificationId }, "alert mail job");
  await withUnmailedAlert(notificationId, (ctx, tx) => mailAlert(ctx, tx, mailer, log));
}
