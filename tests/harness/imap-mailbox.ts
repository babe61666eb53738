import type { MailboxPurpose, NewMailbox } from "@/lib/db/schema";
import { waitFor } from "./ports";

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

/** Waits until the watcher reports `status` for the mailbox (the row's status column, as the UI reads it). */
export async function waitForMailboxStatus(mailboxId: string, status: string, timeoutMs = 15_000): Promise<void> {
  const { getMailboxById } = await import("@/lib/db/queries/mailboxes");
  await waitFor(async () => (await getMailboxById({ mailboxId }))?.status === status, { timeoutMs, what: `mailbox ${mailboxId} to be ${status}` });
}

/**
 * The settings form's body (PUT /api/tenant/email/settings/:purpose) for the password user `rez`
 * on a plaintext test Dovecot, watched by IDLE on INBOX; `overrides` replace or (undefined) drop fields.
 */
export function plainImapSettingsBody({ port, overrides = {} }: { port: number; overrides?: Record<string, unknown> }): Record<string, unknown> {
  return {
    host: "127.0.0.1",
    port,
    address: "rez@hotel.test",
    username: "rez",
    password: "rez-secret",
    tls_mode: "none",
    auth_method: "password",
    use_idle: true,
    folder: "INBOX",
    ...overrides,
  };
}

/**
 * A tenant of its own with a disabled booking mailbox: a row to store messages into directly (the
 * ingest path) that no watcher picks up.
 */
export async function saveDisabledMailbox(name: string): Promise<{ id: string; tenantId: string }> {
  const { createTenant } = await import("@/lib/db/queries/tenants");
  const { saveMailbox } = await import("@/lib/db/queries/mailboxes");
  const tenant = await createTenant({ name });
  const row = await saveMailbox({
    tenantId: tenant.id,
    purpose: "booking",
    fields: { provider: "imap", access: "imap", host: "127.0.0.1", port: 993, username: name, enabled: false },
  });
  return { id: row.id, tenantId: tenant.id };
}
