import type { MailboxPurpose, NewMailbox } from "@/lib/db/schema";

/** Further mailbox columns for savePlainImapMailbox, e.g. startMode, afterIngest, useIdle, folder. */
export type MailboxExtra = Partial<NewMailbox>;

/**
 * A password IMAP mailbox on a plaintext test server (the private Dovecot, a relay or a fake
 * server), watched by IDLE on INBOX. Plaintext has to be chosen explicitly (tls_mode "none"):
 * STARTTLS is required by default. The data layer is imported lazily, so callers can set
 * DATABASE_URL (useFreshDatabase) before it reads the env.
 */
export async function savePlainImapMailbox({
  tenantId,
  purpose = "booking",
  host,
  port,
  user,
  password,
  extra = {},
}: {
  tenantId: string;
  purpose?: MailboxPurpose;
  host: string;
  port: number;
  user: string;
  password: string;
  extra?: MailboxExtra;
}): Promise<string> {
  const { getSecretBox } = await import("@/lib/crypto/secret-box");
  const { saveMailbox } = await import("@/lib/db/queries/mailboxes");
  const row = await saveMailbox({
    tenantId,
    purpose,
    fields: {
      provider: "imap",
      access: "imap",
      host,
      port,
      address: `${user}@hotel.test`,
      username: user,
      useSsl: false,
      tlsMode: "none",
      authMethod: "password",
      passwordEncrypted: getSecretBox().encrypt(password),
      useIdle: true,
      folder: "INBOX",
      enabled: true,
      ...extra,
    },
  });
  return row.id;
}
