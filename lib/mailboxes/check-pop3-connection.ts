import { getEnv } from "@/lib/env";
import { resolveMailHost } from "@/lib/email/host-check";
import { probePop3Mailbox } from "@/lib/email/pop3/pop3-provider";
import { MailError } from "@/lib/email/provider";
import { TEST_CONNECTION_LIMITS, type ConnectionTestResult, type ConnectionTestTarget } from "./check-connection";

/**
 * Logs in over POP3 and lists the maildrop. POP3 has no read flags, so every message on the server
 * counts as unseen here; the watcher skips the ones it already stored (by UIDL).
 */
export async function testPop3Connection(target: ConnectionTestTarget): Promise<ConnectionTestResult> {
  const env = getEnv();
  if (!("pass" in target.auth)) {
    return { ok: false, error: { code: "config", message: "POP3 mailboxes sign in with a password, not OAuth." } };
  }
  try {
    const resolved = await resolveMailHost(target.host, { allowPrivate: env.MAIL_ALLOW_PRIVATE_HOSTS });
    const { messages } = await probePop3Mailbox({
      host: target.host,
      address: resolved.address,
      ...(resolved.servername ? { servername: resolved.servername } : {}),
      port: target.port,
      tlsMode: target.tlsMode,
      allowInvalidCertificate: target.allowInvalidCertificate,
      auth: target.auth,
      connectTimeoutMs: env.EMAIL_CONNECT_TIMEOUT_SECONDS * 1000,
      // The probe reads the greeting, CAPA, login replies and STAT: nothing near a listing's size.
      limits: { maxLineBytes: 8192, maxListingBytes: TEST_CONNECTION_LIMITS.maxResponseBytes, maxMessageBytes: TEST_CONNECTION_LIMITS.maxResponseBytes },
      // Each reply (login, UIDL, QUIT) fails after this much silence: the Test button never hangs.
      commandTimeoutMs: env.EMAIL_COMMAND_TIMEOUT_SECONDS * 1000,
    });
    return { ok: true, folder: "INBOX", exists: messages, unseen: messages };
  } catch (err) {
    const mailError = err instanceof MailError ? err : new MailError("unknown", "The POP3 server returned an unexpected error.");
    return { ok: false, error: { code: mailError.code, message: mailError.message } };
  }
}
