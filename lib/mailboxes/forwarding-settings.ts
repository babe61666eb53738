import { getForwardingStats, replaceForwardingToken } from "@/lib/db/queries/forwarding";
import { getMailbox, saveMailbox } from "@/lib/db/queries/mailboxes";
import type { ForwardingInfo } from "@/lib/api/types";
import type { Mailbox } from "@/lib/db/schema";
import { getEnv } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { buildForwardingAddress, generateForwardingToken } from "@/lib/inbound/forwarding-address";
import type { EmailType } from "@/lib/email/email-type";
import { toMailboxConfig, type MailboxConfig } from "./mailbox-config";
import type { ForwardingSettings } from "./settings-schema";

const DAY_MS = 24 * 60 * 60 * 1000;

export async function buildForwardingConfig(row: Mailbox): Promise<ForwardingInfo | null> {
  if (row.access !== "forwarding" || !row.forwardingToken) return null;
  const stats = await getForwardingStats({ mailboxId: row.id, since: new Date(Date.now() - DAY_MS) });
  return {
    forwarding_address: buildForwardingAddress({ token: row.forwardingToken, domain: getEnv().INBOUND_DOMAIN }),
    allowed_senders: row.forwardingAllowedSenders,
    refuse_dmarc_fail: row.forwardingRefuseDmarcFail,
    verification: row.forwardingVerification ?? null,
    health: {
      last_message_at: stats.lastReceivedAt?.toISOString() ?? null,
      messages_24h: stats.received24h,
      failed_24h: stats.failed24h,
      send_test_mail: stats.lastReceivedAt === null,
    },
  };
}

/**
 * PUT settings with access "forwarding": keeps the token of a mailbox that already forwards (the
 * tenant's forwarding rule keeps working), makes one otherwise. OAuth tokens and passwords of a
 * previous connection are left in place but unused, as switching back to IMAP asks for them anyway.
 */
export async function saveForwardingSettings({
  tenantId,
  emailType,
  input,
}: {
  tenantId: string;
  emailType: EmailType;
  input: ForwardingSettings;
}): Promise<MailboxConfig & { forwarding: ForwardingInfo | null }> {
  const existing = await getMailbox({ tenantId, purpose: emailType });
  const token = existing?.access === "forwarding" && existing.forwardingToken ? existing.forwardingToken : generateForwardingToken();
  const row = await saveMailbox({
    tenantId,
    purpose: emailType,
    fields: {
      provider: "forwarding",
      access: "forwarding",
      address: input.address ?? existing?.address ?? null,
      enabled: input.enabled,
      authMethod: "password",
      forwardingToken: token,
      forwardingAllowedSenders: input.allowed_senders,
      forwardingRefuseDmarcFail: input.refuse_dmarc_fail,
      // Receiving needs no connection: the mailbox is ready as soon as it is saved.
      status: "connected",
    },
  });
  return { ...toMailboxConfig(row, 0), forwarding: await buildForwardingConfig(row) };
}

/** A new address; the old one is refused (550 5.1.1) from now on. */
export async function regenerateForwardingAddress({
  tenantId,
  emailType,
}: {
  tenantId: string;
  emailType: EmailType;
}): Promise<MailboxConfig & { forwarding: ForwardingInfo | null }> {
  const row = await replaceForwardingToken({ tenantId, purpose: emailType, token: generateForwardingToken() });
  if (!row) throw new AppError(404, "not_found", "This mailbox does not use a forwarding address.");
  return { ...toMailboxConfig(row, 0), forwarding: await buildForwardingConfig(row) };
}
