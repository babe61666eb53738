import { ImapFlow } from "imapflow";
import { getEnv } from "../env";
import { assertHostAllowed } from "./host-check";
import { describeImapError } from "./imap-errors";
import { MailError, type MailErrorCode, type StartCandidateCounts } from "./provider";

export type ConnectionTestTarget = {
  protocol: "imap" | "pop3";
  host: string;
  port: number;
  useSsl: boolean;
  allowInvalidCertificate: boolean;
  folder: string;
  auth: { user: string; pass: string } | { user: string; accessToken: string };
  /** Counts the messages start mode "since" would import from this date. */
  startSince?: Date | null;
};

export type ConnectionTestResult =
  | { ok: true; folder: string; exists: number; unseen: number; start_counts?: StartCandidateCounts }
  | { ok: false; error: { code: MailErrorCode; message: string } };

/** Logs in, opens the folder and counts messages: the "Test connection" button's answer. */
export async function testImapConnection(target: ConnectionTestTarget): Promise<ConnectionTestResult> {
  const env = getEnv();
  const context = { host: target.host, port: target.port, folder: target.folder };
  const client = new ImapFlow({
    host: target.host,
    port: target.port,
    secure: target.useSsl,
    auth: target.auth,
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: env.EMAIL_CONNECT_TIMEOUT_SECONDS * 1000,
    greetingTimeout: env.EMAIL_CONNECT_TIMEOUT_SECONDS * 1000,
    socketTimeout: 30_000,
    tls: { rejectUnauthorized: !target.allowInvalidCertificate },
  });
  client.on("error", () => {});
  try {
    await assertHostAllowed(target.host, { allowPrivate: env.MAIL_ALLOW_PRIVATE_HOSTS });
    await client.connect();
    const status = await client.status(target.folder, { messages: true, unseen: true });
    if (!status) throw new MailError("folder_missing", `The folder "${target.folder}" does not exist in this mailbox.`);
    const exists = status.messages ?? 0;
    const unseen = status.unseen ?? 0;
    // What each start mode would import (the settings form shows it before saving).
    let since: number | null = null;
    if (target.startSince) {
      const lock = await client.getMailboxLock(target.folder, { readOnly: true });
      try {
        since = ((await client.search({ since: target.startSince }, { uid: true })) || []).length;
      } finally {
        lock.release();
      }
    }
    return { ok: true, folder: target.folder, exists, unseen, start_counts: { unread: unseen, since, total: exists } };
  } catch (err) {
    const mailError = err instanceof MailError ? err : describeImapError(err, context);
    return { ok: false, error: { code: mailError.code, message: mailError.message } };
  } finally {
    await client.logout().catch(() => {});
    client.close();
  }
}
