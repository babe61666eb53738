import { ImapFlow } from "imapflow";
import type { TestResult } from "@/lib/api/types";
import { getEnv } from "@/lib/env";
import { resolveMailHost } from "@/lib/email/host-check";
import { describeImapError } from "@/lib/email/mail-socket/socket-errors";
import { imapSocketTimeoutMs, livenessFromEnv, noAnswerError, withResponseTimeout } from "@/lib/email/imap/imap-liveness";
import { MailError } from "@/lib/email/provider";
import { imapTlsSwitches, type TlsMode } from "@/lib/email/mail-socket/tls-mode";

export type ConnectionTestTarget = {
  protocol: "imap" | "pop3";
  host: string;
  port: number;
  tlsMode: TlsMode;
  allowInvalidCertificate: boolean;
  folder: string;
  auth: { user: string; pass: string } | { user: string; accessToken: string };
  /** Counts the messages start mode "since" would import from this date. */
  startSince?: Date | null;
};

/** The Test call's answer is the contract's TestResult. */
export type ConnectionTestResult = TestResult;

/**
 * The Test button talks to a server the tenant chose, from the web process: everything it reads is
 * small (greeting, CAPABILITY, LOGIN, STATUS), so its limits are far below the watcher's. A server
 * sending one endless line is cut off after 64 KiB instead of growing the web process by a GiB.
 */
export const TEST_CONNECTION_LIMITS = { maxLineBytes: 64 * 1024, maxResponseBytes: 4 * 1024 * 1024 } as const;

/** Logs in, opens the folder and counts messages: the "Test connection" button's answer. */
export async function testImapConnection(target: ConnectionTestTarget): Promise<ConnectionTestResult> {
  const env = getEnv();
  const context = { host: target.host, port: target.port, folder: target.folder };
  const liveness = livenessFromEnv(env);
  const where = `${target.host}:${target.port}`;
  let client: ImapFlow | null = null;
  try {
    // Resolved once and connected by address: see resolveMailHost (DNS rebinding).
    const resolved = await resolveMailHost(target.host, { allowPrivate: env.MAIL_ALLOW_PRIVATE_HOSTS });
    const imap = new ImapFlow({
      host: resolved.address,
      ...(resolved.servername ? { servername: resolved.servername } : {}),
      port: target.port,
      ...imapTlsSwitches(target.tlsMode),
      auth: target.auth,
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: env.EMAIL_CONNECT_TIMEOUT_SECONDS * 1000,
      greetingTimeout: env.EMAIL_CONNECT_TIMEOUT_SECONDS * 1000,
      socketTimeout: imapSocketTimeoutMs(liveness),
      maxLineLength: TEST_CONNECTION_LIMITS.maxLineBytes,
      maxLiteralSize: TEST_CONNECTION_LIMITS.maxLineBytes,
      maxResponseSize: TEST_CONNECTION_LIMITS.maxResponseBytes,
      tls: { rejectUnauthorized: !target.allowInvalidCertificate },
    });
    client = imap;
    imap.on("error", () => {});
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
        onTimeout: () => imap.close(),
      });
    // One budget for the whole test (45 s with the defaults), counted from its start.
    const budgetMs = env.EMAIL_CONNECT_TIMEOUT_SECONDS * 1000 + liveness.commandTimeoutMs;
    await bounded(() => imap.connect(), budgetMs, "connecting");
    const status = await bounded(() => imap.status(target.folder, { messages: true, unseen: true }), budgetMs, "reading the folder");
    if (!status) throw new MailError("folder_missing", `The folder "${target.folder}" does not exist in this mailbox.`);
    const exists = status.messages ?? 0;
    const unseen = status.unseen ?? 0;
    // What each start mode would import (the settings form shows it before saving).
    let since: number | null = null;
    if (target.startSince) {
      const startSince = target.startSince;
      const lock = await bounded(() => imap.getMailboxLock(target.folder, { readOnly: true }), budgetMs, "opening the folder");
      try {
        since = ((await bounded(() => imap.search({ since: startSince }, { uid: true }), budgetMs, "counting messages")) || []).length;
      } finally {
        lock.release();
      }
    }
    return { ok: true, folder: target.folder, exists, unseen, start_counts: { unread: unseen, since, total: exists } };
  } catch (err) {
    const mailError = err instanceof MailError ? err : describeImapError(err, context);
    return { ok: false, error: { code: mailError.code, message: mailError.message } };
  } finally {
    if (client) {
      // LOGOUT into a dead connection would wait for the socket timeout: a polite try, then close.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([client.logout().catch(() => {}), new Promise((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
      client.close();
    }
  }
}
