import { ImapFlow } from "imapflow";
import { getEnv } from "../env";
import { assertHostAllowed } from "./host-check";
import { describeImapError } from "./imap-errors";
import { imapSocketTimeoutMs, livenessFromEnv, noAnswerError, withResponseTimeout } from "./imap-liveness";
import { MailError, type MailErrorCode } from "./provider";

export type ConnectionTestTarget = {
  protocol: "imap" | "pop3";
  host: string;
  port: number;
  useSsl: boolean;
  allowInvalidCertificate: boolean;
  folder: string;
  auth: { user: string; pass: string } | { user: string; accessToken: string };
};

export type ConnectionTestResult =
  | { ok: true; folder: string; exists: number; unseen: number }
  | { ok: false; error: { code: MailErrorCode; message: string } };

/** Logs in, opens the folder and counts messages: the "Test connection" button's answer. */
export async function testImapConnection(target: ConnectionTestTarget): Promise<ConnectionTestResult> {
  const env = getEnv();
  const context = { host: target.host, port: target.port, folder: target.folder };
  const liveness = livenessFromEnv(env);
  const where = `${target.host}:${target.port}`;
  const client = new ImapFlow({
    host: target.host,
    port: target.port,
    secure: target.useSsl,
    auth: target.auth,
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: env.EMAIL_CONNECT_TIMEOUT_SECONDS * 1000,
    greetingTimeout: env.EMAIL_CONNECT_TIMEOUT_SECONDS * 1000,
    socketTimeout: imapSocketTimeoutMs(liveness),
    tls: { rejectUnauthorized: !target.allowInvalidCertificate },
  });
  client.on("error", () => {});
  try {
    await assertHostAllowed(target.host, { allowPrivate: env.MAIL_ALLOW_PRIVATE_HOSTS });
    // Total deadlines, not silence: a server that dribbles a byte now and then must not keep the
    // admin's Test request open (an activity that never moves turns the silence rule into one).
    const start = { lastHeardAt: Date.now() };
    const bounded = <T>(run: () => Promise<T>, timeoutMs: number, during: string): Promise<T> =>
      withResponseTimeout({
        run,
        timeoutMs,
        activity: start,
        describeTimeout: (ms) =>
          new MailError("timeout", `The mail server at ${where} did not answer in time.`, { cause: noAnswerError(where, ms, during) }),
        onTimeout: () => client.close(),
      });
    // One budget for the whole test (45 s with the defaults), counted from its start.
    const budgetMs = env.EMAIL_CONNECT_TIMEOUT_SECONDS * 1000 + liveness.commandTimeoutMs;
    await bounded(() => client.connect(), budgetMs, "connecting");
    const status = await bounded(() => client.status(target.folder, { messages: true, unseen: true }), budgetMs, "reading the folder");
    if (!status) throw new MailError("folder_missing", `The folder "${target.folder}" does not exist in this mailbox.`);
    return { ok: true, folder: target.folder, exists: status.messages ?? 0, unseen: status.unseen ?? 0 };
  } catch (err) {
    const mailError = err instanceof MailError ? err : describeImapError(err, context);
    return { ok: false, error: { code: mailError.code, message: mailError.message } };
  } finally {
    // LOGOUT into a dead connection would wait for the socket timeout: a polite try, then close.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([client.logout().catch(() => {}), new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    client.close();
  }
}
