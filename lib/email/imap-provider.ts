import type { Socket } from "node:net";
import { ImapFlow, type ImapFlowOptions } from "imapflow";
import type { MailAccess } from "../db/schema";
import { describeImapError } from "./imap-errors";
import {
  imapSocketTimeoutMs,
  livenessFromEnv,
  noAnswerError,
  ServerActivity,
  startIdleWatchdog,
  withResponseTimeout,
  type IdleWatchdog,
  type ImapLivenessSettings,
} from "./imap-liveness";
import { planUnreadFetch, selectNewUnread } from "./imap-unread-plan";
import { MailError, type FetchedMessage, type MailProvider, type ProviderHealth, type WaitResult } from "./provider";

export type ImapAuth = { user: string; pass: string } | { user: string; accessToken: string };

export type ImapProviderOptions = {
  host: string;
  port: number;
  /** true: implicit TLS (993); false: STARTTLS when offered. */
  secure: boolean;
  allowInvalidCertificate: boolean;
  /** PEM trust anchors added to the system's, for private CAs. */
  ca?: string;
  auth: ImapAuth;
  folder: string;
  useIdle: boolean;
  /** How often IDLE is re-issued (RFC 2177 asks clients to re-IDLE before 29 minutes). */
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  /** Command timeout and IDLE watchdog (imap-liveness.ts); defaults: 30 s, 60 s silence, 15 s probe. */
  liveness?: ImapLivenessSettings;
  onLog?: (entry: { level: string; msg: string }) => void;
};

/** IMAP on imapflow. A new ImapFlow object per connect(): a closed one cannot be reused. */
export class ImapProvider implements MailProvider {
  readonly access: MailAccess = "imap";
  private client: ImapFlow | null = null;
  private uidValidity = "";
  /** Set by EXISTS pushes; read and cleared by waitForChange so none is lost between commands. */
  private changePending = false;
  /**
   * Every message with a lower UID has been examined in this session (imap-unread-plan.ts): new
   * mail is fetched from here without a SEARCH. Starts at UIDNEXT when the folder is opened.
   */
  private uidCursor = 0;
  /** EXISTS when the previous fetch started: how many messages a notification can have added. */
  private existsAtFetch = 0;
  /** The next fetch runs the full UNSEEN search (at connect, after a re-sync timeout, during a backlog). */
  private fullSearchDue = true;
  private closed = true;
  private lastActivityAt: Date | null = null;
  private lastError: string | null = null;
  private readonly closeListeners = new Set<() => void>();
  private readonly changeListeners = new Set<() => void>();
  /** When the current connection's server last sent a byte: the liveness checks' only signal. */
  private activity = new ServerActivity();
  /** Why this side gave the current connection up; wins over the errors its teardown produces. */
  private abandonedWith: MailError | null = null;
  private readonly liveness: ImapLivenessSettings;

  constructor(private readonly opts: ImapProviderOptions) {
    this.liveness = opts.liveness ?? livenessFromEnv({ EMAIL_COMMAND_TIMEOUT_SECONDS: 30, EMAIL_IDLE_SILENCE_SECONDS: 60 });
  }

  private get where(): string {
    return `${this.opts.host}:${this.opts.port}`;
  }

  /**
   * Ends a connection the server stopped answering on. The error is recorded first so the 'close'
   * that follows reports it (the watcher reads lastError when waitForChange says "closed").
   */
  private abandon(client: ImapFlow, err: MailError): void {
    if (this.client !== client) return;
    this.abandonedWith = err;
    this.lastError = err.message;
    client.close();
  }

  get isConnected(): boolean {
    return !this.closed && this.client?.usable === true;
  }

  async connect(): Promise<void> {
    await this.disconnect();
    const options: ImapFlowOptions = {
      host: this.opts.host,
      port: this.opts.port,
      secure: this.opts.secure,
      auth: this.opts.auth,
      logger: false,
      disableAutoIdle: true,
      maxIdleTime: this.opts.idleTimeoutMs,
      connectionTimeout: this.opts.connectTimeoutMs,
      greetingTimeout: this.opts.connectTimeoutMs,
      // Bounded (imapflow's default is 5 minutes): a backstop behind imap-liveness.ts's own checks.
      // imapflow also enables TCP keepalive (5 s initial delay) on every socket it opens, STARTTLS
      // ones included; keepalive sees a really dropped flow, not a frozen middlebox that still ACKs.
      socketTimeout: imapSocketTimeoutMs(this.liveness),
      tls: {
        rejectUnauthorized: !this.opts.allowInvalidCertificate,
        ...(this.opts.ca ? { ca: this.opts.ca } : {}),
      },
      clientInfo: { name: "MindOps Mailbox Integration" },
    };
    const client = new ImapFlow(options);
    this.client = client;
    // An unhandled 'error' event would kill the whole watcher; record it and let 'close' end the loop.
    this.abandonedWith = null;
    client.on("error", (err: unknown) => {
      this.lastError = this.abandonedWith?.message ?? describeImapError(err, this.opts).message;
    });
    client.on("close", () => {
      if (this.client !== client) return;
      this.closed = true;
      for (const fn of this.closeListeners) fn();
    });
    client.on("exists", () => {
      this.changePending = true;
      for (const fn of this.changeListeners) fn();
    });
    const activity = new ServerActivity();
    this.activity = activity;
    try {
      // connectionTimeout/greetingTimeout bound the TCP connect and the greeting; what follows
      // (login, SELECT) is bounded by the same silence rule as every command.
      await withResponseTimeout({
        run: () => client.connect(),
        timeoutMs: this.opts.connectTimeoutMs + this.liveness.commandTimeoutMs,
        activity,
        describeTimeout: (ms) => noAnswerError(this.where, ms, "connecting"),
        onTimeout: () => client.close(),
      });
      // The socket that carries the session (after STARTTLS too): every byte from the server counts.
      (client as unknown as { socket?: Socket }).socket?.on("data", () => activity.touch());
      activity.touch();
      const mailbox = await withResponseTimeout({
        run: () => client.mailboxOpen(this.opts.folder),
        timeoutMs: this.liveness.commandTimeoutMs,
        activity,
        describeTimeout: (ms) => noAnswerError(this.where, ms, "opening the folder"),
        onTimeout: () => client.close(),
      });
      this.uidValidity = String(mailbox.uidValidity);
      this.uidCursor = Number(mailbox.uidNext) || 0;
      this.existsAtFetch = mailbox.exists;
      this.fullSearchDue = true;
      this.closed = false;
      this.lastActivityAt = new Date();
      this.lastError = null;
    } catch (err) {
      const mailError = describeImapError(err, this.opts);
      this.lastError = mailError.message;
      await this.disconnect();
      throw mailError;
    }
  }

  async disconnect(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.closed = true;
    if (!client) return;
    try {
      if (client.usable) await Promise.race([client.logout(), new Promise((r) => setTimeout(r, 2000))]);
    } catch {
      // logout on a broken socket fails; close() below is what matters
    }
    client.close();
  }

  private requireClient(): ImapFlow {
    if (!this.client || this.closed) throw new MailError("network", "The IMAP connection is closed.");
    return this.client;
  }

  private async run<T>(fn: (client: ImapFlow) => Promise<T>): Promise<T> {
    const client = this.requireClient();
    try {
      const result = await withResponseTimeout({
        run: () => fn(client),
        timeoutMs: this.liveness.commandTimeoutMs,
        activity: this.activity,
        describeTimeout: (ms) => noAnswerError(this.where, ms, "waiting for a command's answer"),
        onTimeout: (err) => this.abandon(client, err),
      });
      this.lastActivityAt = new Date();
      return result;
    } catch (err) {
      const mailError = describeImapError(err, this.opts);
      this.lastError = mailError.message;
      throw mailError;
    }
  }

  async searchUnseen(): Promise<number[]> {
    return this.run(async (client) => {
      const uids = await client.search({ seen: false }, { uid: true });
      return (uids || []).sort((a, b) => a - b);
    });
  }

  async fetchUnread({ maxCount }: { maxCount: number }): Promise<FetchedMessage[]> {
    this.changePending = false;
    const client = this.requireClient();
    const exists = client.mailbox ? client.mailbox.exists : 0;
    const plan = planUnreadFetch({
      fullSearchDue: this.fullSearchDue,
      uidCursor: this.uidCursor,
      newMessages: exists - this.existsAtFetch,
      maxCount,
    });
    this.existsAtFetch = exists;
    if (plan.kind === "range") {
      // One command for what a notification announced: FLAGS come with the body, so read mail is
      // skipped as SEARCH UNSEEN would skip it.
      const fetched = await this.fetchMessages(plan.range, true);
      const { unread, uidCursor } = selectNewUnread(fetched, this.uidCursor);
      // The range had no upper bound: everything above the old cursor has now been examined.
      this.uidCursor = uidCursor;
      return unread.map((m) => m.message);
    }
    const all = await this.searchUnseen();
    const uids = all.slice(0, maxCount);
    // Until a search comes back with less than a batch, the next fetch searches again.
    this.fullSearchDue = all.length > maxCount;
    if (uids.length === 0) return [];
    const fetched = await this.fetchMessages(uids, false);
    // Everything below the highest UID fetched has been examined by this search.
    this.uidCursor = Math.max(this.uidCursor, uids[uids.length - 1]! + 1);
    return fetched.sort((a, b) => a.uid - b.uid).map((m) => m.message);
  }

  private async fetchMessages(
    range: number[] | string,
    withFlags: boolean,
  ): Promise<{ uid: number; seen: boolean; message: FetchedMessage }[]> {
    return this.run(async (client) => {
      const out: { uid: number; seen: boolean; message: FetchedMessage }[] = [];
      // BODY.PEEK[] (imapflow's `source`) leaves \Seen alone: read is set only after storing.
      const query = { uid: true, source: true, internalDate: true, ...(withFlags ? { flags: true } : {}) };
      for await (const msg of client.fetch(range, query, { uid: true })) {
        if (!msg.source) continue;
        const internalDate = msg.internalDate ? new Date(msg.internalDate) : undefined;
        out.push({
          uid: msg.uid,
          seen: msg.flags?.has("\\Seen") ?? false,
          message: {
            providerMessageId: `${this.uidValidity}:${msg.uid}`,
            raw: msg.source,
            ...(internalDate && !Number.isNaN(internalDate.getTime()) ? { receivedAt: internalDate } : {}),
          },
        });
      }
      return out;
    });
  }

  async countUnread(): Promise<number> {
    return (await this.searchUnseen()).length;
  }

  async markAsRead(providerMessageIds: string[]): Promise<void> {
    const uids = providerMessageIds
      .filter((id) => id.startsWith(`${this.uidValidity}:`))
      .map(uidOf)
      .filter((n) => Number.isInteger(n) && n > 0);
    if (uids.length === 0) return;
    // .SILENT: the server need not echo every message's new flags back.
    await this.run((client) => client.messageFlagsAdd(uids, ["\\Seen"], { uid: true, silent: true }));
  }

  async waitForChange({ timeoutMs, signal }: { timeoutMs: number; signal: AbortSignal }): Promise<WaitResult> {
    if (this.closed || !this.client) return "closed";
    if (this.changePending || signal.aborted) return signal.aborted ? "closed" : "changed";
    const client = this.client;
    return new Promise<WaitResult>((resolve) => {
      const timers: { timeout?: NodeJS.Timeout; watchdog?: IdleWatchdog } = {};
      const finish = (result: WaitResult): void => {
        clearTimeout(timers.timeout);
        timers.watchdog?.stop();
        this.closeListeners.delete(onClose);
        this.changeListeners.delete(onChange);
        signal.removeEventListener("abort", onAbort);
        resolve(result);
      };
      const onClose = (): void => finish("closed");
      const onChange = (): void => finish("changed");
      const onAbort = (): void => finish("closed");
      this.closeListeners.add(onClose);
      this.changeListeners.add(onChange);
      signal.addEventListener("abort", onAbort, { once: true });
      timers.timeout = setTimeout(() => {
        // A quiet wait ran out: the safety re-sync that follows searches the whole folder again.
        this.fullSearchDue = true;
        finish("timeout");
      }, timeoutMs);
      const enterIdle = (): void => {
        // IDLE ends when the next command is sent; its rejection on a dropped socket surfaces as 'close'.
        if (this.opts.useIdle && this.client === client && !this.closed) client.idle().catch(() => {});
      };
      // A silent IDLE (or polling wait) is asked whether the server is still there: NOOP (imapflow
      // sends DONE first while idling). No answer: the path is dead, end it so the watcher reconnects.
      timers.watchdog = startIdleWatchdog({
        silenceMs: this.liveness.idleSilenceMs,
        probeTimeoutMs: this.liveness.probeTimeoutMs,
        activity: this.activity,
        probe: async () => {
          // imapflow's NOOP swallows its own failure; a connection that closed under it is no answer.
          await client.noop();
          if (!client.usable) throw new MailError("network", `The connection to ${this.where} was closed.`);
        },
        onAlive: () => {
          this.lastActivityAt = new Date();
          // The NOOP may have brought EXISTS: onChange has then finished the wait already.
          enterIdle();
        },
        onDead: (err) => {
          const mailError = err instanceof MailError ? err : describeImapError(err, this.opts);
          this.abandon(client, mailError);
          // close() normally ends the wait through 'close'; a client already half-closed may not emit it.
          finish("closed");
        },
        describeTimeout: (ms) => noAnswerError(this.where, ms, "checking a silent connection"),
      });
      enterIdle();
    });
  }

  getHealthStatus(): ProviderHealth {
    return { connected: this.isConnected, lastActivityAt: this.lastActivityAt, lastError: this.lastError };
  }
}

function uidOf(providerMessageId: string): number {
  return Number(providerMessageId.slice(providerMessageId.indexOf(":") + 1));
}
