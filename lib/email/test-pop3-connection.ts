import { getEnv } from "../env";
import { assertHostAllowed } from "./host-check";
import { probePop3Mailbox } from "./pop3-provider";
import { MailError } from "./provider";
import type { ConnectionTestResult, ConnectionTestTarget } from "./test-connection";

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
    await assertHostAllowed(target.host, { allowPrivate: env.MAIL_ALLOW_PRIVATE_HOSTS });
    const { messages } = await probePop3Mailbox({
      host: target.host,
      port: target.port,
      secure: target.useSsl,
      allowInvalidCertificate: target.allowInvalidCertificate,
      auth: target.auth,
      connectTimeoutMs: env.EMAIL_CONNECT_TIMEOUT_SECONDS * 1000,
      // Each reply (login, UIDL, QUIT) fails after this much silence: the Test button never hangs.
      commandTimeoutMs: env.EMAIL_COMMAND_TIMEOUT_SECONDS * 1000,
    });
    return { ok: true, folder: "INBOX", exists: messages, unseen: messages };
  } catch (err) {
    const mailError = err instanceof MailError ? err : new MailError("unknown", "The POP3 server returned an unexpected error.");
    return { ok: false, error: { code: mailError.code, message: mailError.message } };
  }
}
