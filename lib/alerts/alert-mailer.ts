import nodemailer, { type Transporter } from "nodemailer";
import { getEnv } from "@/lib/env";

export type AlertMailer = {
  send: (mail: { to: string; subject: string; text: string; headers?: Record<string, string> }) => Promise<void>;
  close: () => void;
};

let cached: AlertMailer | null | undefined;

/**
 * Outgoing alert mail through SMTP_URL (nodemailer; smtp:// with STARTTLS when offered, smtps://
 * for implicit TLS). Without SMTP_URL and ALERT_FROM there is no mailer: alerts stay in-app.
 */
export function getAlertMailer(): AlertMailer | null {
  if (cached !== undefined) return cached;
  const env = getEnv();
  if (!env.SMTP_URL || !env.ALERT_FROM) return (cached = null);
  const transport: Transporter = nodemailer.createTransport(env.SMTP_URL);
  const from = env.ALERT_FROM;
  cached = {
    send: async ({ to, subject, text, headers }) => {
      await transport.sendMail({ from, to, subject, text, ...(headers ? { headers } : {}) });
    },
    close: () => transport.close(),
  };
  return cached;
}
