import { getSecretBox } from "@/lib/crypto/secret-box";
import { countRecentErrors } from "@/lib/db/queries/mailbox-events";
import { deleteMailbox, getMailbox, listTenantMailboxes, saveMailbox } from "@/lib/db/queries/mailboxes";
import type { Mailbox } from "@/lib/db/schema";
import { getEnv } from "@/lib/env";
import { AppError } from "@/lib/errors";
import type { EmailType } from "@/lib/email/email-type";
import { buildForwardingConfig } from "./forwarding-settings";
import { assertHostAllowed } from "@/lib/email/host-check";
import { toMailboxConfig, type MailboxConfig } from "./mailbox-config";
import { effectiveTlsMode, tlsModeFromInput, type TlsMode } from "@/lib/email/mail-socket/tls-mode";
import { MailError } from "@/lib/email/provider";
import type { MailboxSettings, MailboxTestInput } from "./settings-schema";
import { testImapConnection, type ConnectionTestResult, type ConnectionTestTarget } from "./check-connection";
import { testPop3Connection } from "./check-pop3-connection";

const DAY_MS = 24 * 60 * 60 * 1000;

function fieldError(field: string, message: string, code = "validation_failed"): AppError {
  return new AppError(400, code, message, { fields: { [field]: message } });
}

export async function getTenantMailboxConfigs({
  tenantId,
}: {
  tenantId: string;
}): Promise<Record<EmailType, MailboxConfig | null>> {
  const rows = await listTenantMailboxes({ tenantId });
  const errors = await countRecentErrors({ mailboxIds: rows.map((r) => r.id), since: new Date(Date.now() - DAY_MS) });
  const result: Record<EmailType, MailboxConfig | null> = { booking: null, stopsale: null };
  for (const row of rows) result[row.purpose] = toMailboxConfig(row, errors.get(row.id) ?? 0);
  for (const row of rows) {
    if (row.access === "forwarding" && result[row.purpose]) result[row.purpose]!.forwarding = await buildForwardingConfig(row);
  }
  return result;
}

async function checkHost(host: string): Promise<void> {
  try {
    await assertHostAllowed(host, { allowPrivate: getEnv().MAIL_ALLOW_PRIVATE_HOSTS });
  } catch (err) {
    if (err instanceof MailError && err.code === "host_not_allowed") throw fieldError("host", err.message, "host_not_allowed");
    // An unresolvable name is saved anyway: DNS may be fixed later, and health will say so.
  }
}

const PASSWORD_AGAIN = "The server, port, encryption or username changed: enter the mailbox password again.";

/** What decides where the saved password is sent; changing any of it must not reuse the password. */
type ConnectionIdentity = { protocol: "imap" | "pop3"; host: string; port: number; tlsMode: TlsMode; user: string };

const normalizeHost = (host: string): string => host.trim().toLowerCase().replace(/\.$/, "").replace(/^\[|\]$/g, "");

function savedIdentity(row: Mailbox): ConnectionIdentity | null {
  if (!row.host) return null;
  return {
    protocol: row.access === "pop3" ? "pop3" : "imap",
    host: normalizeHost(row.host),
    port: row.port,
    tlsMode: effectiveTlsMode(row),
    user: row.username || row.address || "",
  };
}

function sameIdentity(a: ConnectionIdentity, b: ConnectionIdentity): boolean {
  return a.protocol === b.protocol && a.host === b.host && a.port === b.port && a.tlsMode === b.tlsMode && a.user === b.user;
}

/** An explicit tls_mode that contradicts use_ssl is a client bug, not something to guess about. */
function resolveTlsMode(input: { tls_mode?: TlsMode | undefined; use_ssl?: boolean | undefined }): TlsMode | undefined {
  if (input.tls_mode && input.use_ssl !== undefined && input.use_ssl !== (input.tls_mode === "implicit")) {
    throw fieldError("use_ssl", "use_ssl contradicts tls_mode; send tls_mode only.");
  }
  return tlsModeFromInput(input);
}

/**
 * PUT settings: validates what the schema cannot (a password must exist somewhere, OAuth only
 * when connected, host policy), encrypts the password and tells the watcher in the same transaction.
 */
export async function saveMailboxSettings({
  tenantId,
  emailType,
  input,
}: {
  tenantId: string;
  emailType: EmailType;
  input: MailboxSettings;
}): Promise<MailboxConfig> {
  const existing = await getMailbox({ tenantId, purpose: emailType });
  const newPassword = input.password ? input.password : undefined;
  if (input.auth_method === "oauth2") {
    if (!existing?.oauthRefreshTokenEncrypted && !existing?.oauthAccessTokenEncrypted) {
      throw fieldError("auth_method", "Connect the mailbox with Google or Microsoft before choosing OAuth.");
    }
  } else if (!newPassword && !existing?.passwordEncrypted) {
    throw fieldError("password", "Enter the mailbox password (or an app password).");
  }
  const tlsMode = resolveTlsMode(input) ?? "implicit";
  if (input.auth_method !== "oauth2" && !newPassword && existing) {
    // The stored password may only go where it went before: otherwise anyone with an admin
    // session could point the mailbox at a listener of theirs and read it (issue 14 §3).
    const before = savedIdentity(existing);
    const after: ConnectionIdentity = {
      protocol: input.protocol,
      host: normalizeHost(input.host),
      port: input.port,
      tlsMode,
      user: input.username || input.address,
    };
    if (!before || !sameIdentity(before, after)) throw fieldError("password", PASSWORD_AGAIN, "password_required");
  }
  await checkHost(input.host);
  const keepsOAuth = input.auth_method === "oauth2" && existing;
  const row = await saveMailbox({
    tenantId,
    purpose: emailType,
    fields: {
      provider: keepsOAuth ? existing.provider : "imap",
      access: input.protocol,
      host: input.host,
      port: input.port,
      address: input.address,
      username: input.username || null,
      useSsl: tlsMode === "implicit",
      tlsMode,
      allowInvalidCertificate: input.allow_invalid_certificate,
      authMethod: input.auth_method,
      // Issue 18: server settings make it an ordinary mailbox again (no organisation credentials).
      mailboxKind: "own",
      serviceAccountKeyEncrypted: null,
      ...(newPassword ? { passwordEncrypted: getSecretBox().encrypt(newPassword) } : {}),
      useIdle: input.use_idle,
      folder: input.folder,
      enabled: input.enabled,
      pollIntervalSeconds: input.poll_interval_seconds,
      deleteAfterIngest: input.delete_after_ingest,
      startMode: input.start_mode,
      startSince: input.start_mode === "since" ? (input.start_since ?? null) : null,
      afterIngest: input.after_ingest,
      moveToFolder: input.after_ingest === "move" ? (input.move_to_folder ?? null) : null,
    },
  });
  return toMailboxConfig(row, 0);
}

export async function removeMailboxSettings({ tenantId, emailType }: { tenantId: string; emailType: EmailType }): Promise<void> {
  const removed = await deleteMailbox({ tenantId, purpose: emailType });
  if (!removed) throw new AppError(404, "not_found", "This mailbox is not configured.");
}

function buildTestTarget(input: MailboxTestInput, saved: Mailbox | null): ConnectionTestTarget {
  const host = input.host ?? saved?.host;
  const address = input.address ?? saved?.address ?? undefined;
  const user = input.username || (input.username === undefined ? saved?.username : null) || address;
  if (!host) throw fieldError("host", "Enter the mail server's host name.");
  if (!user) throw fieldError("username", "Enter the username or the email address.");
  const protocol = input.protocol ?? (saved?.access === "pop3" ? "pop3" : "imap");
  const port = input.port ?? saved?.port ?? (protocol === "pop3" ? 995 : 993);
  const tlsMode = resolveTlsMode(input) ?? (saved ? effectiveTlsMode(saved) : "implicit");
  let pass = input.password || undefined;
  if (!pass && saved?.passwordEncrypted) {
    // Unsaved connection details never get the stored secret: it is only ever sent where it was saved for.
    const before = savedIdentity(saved);
    const target: ConnectionIdentity = { protocol, host: normalizeHost(host), port, tlsMode, user };
    if (!before || !sameIdentity(before, target)) throw fieldError("password", PASSWORD_AGAIN, "password_required");
    pass = getSecretBox().decrypt(saved.passwordEncrypted);
  }
  if (!pass) throw fieldError("password", "Enter the mailbox password (or an app password).");
  return {
    protocol,
    host,
    port,
    tlsMode,
    allowInvalidCertificate: input.allow_invalid_certificate ?? saved?.allowInvalidCertificate ?? false,
    folder: input.folder ?? saved?.folder ?? "INBOX",
    auth: { user, pass },
    startSince: input.start_since ?? saved?.startSince ?? null,
  };
}

/** POST .../test: the unsaved form merged over the saved settings, tried for real. */
export async function testMailboxSettings({
  tenantId,
  emailType,
  input,
}: {
  tenantId: string;
  emailType: EmailType;
  input: MailboxTestInput;
}): Promise<ConnectionTestResult> {
  const saved = await getMailbox({ tenantId, purpose: emailType });
  const target = buildTestTarget(input, saved);
  return target.protocol === "pop3" ? testPop3Connection(target) : testImapConnection(target);
}
