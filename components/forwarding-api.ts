/** Browser side of the forwarding parts of the settings API (issue 16). */
import type { ForwardingInfo, MailboxConfig, SenderAuth } from "@/lib/api/types";
import { api, apiFetch, type EmailType } from "./email-api";

// The shapes are the server's own (lib/api/types.ts), never re-declared here.
export type { ForwardingInfo, SenderAuth };
export type ForwardingVerification = NonNullable<ForwardingInfo["verification"]>;
export type ForwardingConfig = MailboxConfig;

export const forwardingApi = {
  save: (type: EmailType, body: { address?: string; allowed_senders: string[]; refuse_dmarc_fail: boolean }) =>
    api.saveSettings(type, { access: "forwarding", ...body }) as Promise<ForwardingConfig>,
  regenerate: (type: EmailType): Promise<ForwardingConfig> =>
    apiFetch<ForwardingConfig>(`/api/tenant/email/settings/${type}/forwarding-address`, { method: "POST", body: {} }),
};
