/** Browser side of the forwarding parts of the settings API (issue 16). */
import { api, type EmailType, type MailboxConfig } from "./email-api";

export type ForwardingVerification = {
  provider: "gmail" | "outlook" | "other";
  code: string | null;
  link: string | null;
  from: string | null;
  subject: string | null;
  receivedAt: string;
};

export type ForwardingInfo = {
  forwarding_address: string;
  allowed_senders: string[];
  refuse_dmarc_fail: boolean;
  verification: ForwardingVerification | null;
  health: { last_message_at: string | null; messages_24h: number; failed_24h: number; send_test_mail: boolean };
};

export type SenderAuth = { spf: string; dkim: string; dmarc: string; arc: string; dkim_domains: string[] };

export type ForwardingConfig = MailboxConfig & { forwarding?: ForwardingInfo | null };

export const forwardingApi = {
  save: (type: EmailType, body: { address?: string; allowed_senders: string[]; refuse_dmarc_fail: boolean }) =>
    api.saveSettings(type, { access: "forwarding", ...body }) as Promise<ForwardingConfig>,
  regenerate: async (type: EmailType): Promise<ForwardingConfig> => {
    const res = await fetch(`/api/tenant/email/settings/${type}/forwarding-address`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
      credentials: "same-origin",
    });
    if (!res.ok) throw new Error(`regenerate failed: ${res.status}`);
    return (await res.json()) as ForwardingConfig;
  },
};
