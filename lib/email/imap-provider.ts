import { ImapFlow, type ImapFlowOptions } from "imapflow";
import type { MailAccess } from "../db/schema";
import { describeImapError } from "./imap-errors";
import { planUnreadFetch, selectNewUnread } from "./imap-unread-plan";
import { MailError, type FetchBatch, type FetchedMessage, type MailProvider, type ProviderHealth, type WaitResult } from "./provider";

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

  constructor(private readonly opts: ImapProviderOptions) {}

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
      tls: {
        rejectUnauthorized: !this.opts.allowInvalidCertificate,
        ...(this.opts.ca ? { ca: this.opts.ca } : {}),
      },
      clientInfo: { name: "MindOps Mailbox Integration" },
    };
    const client = new ImapFlow(options);
    this.client = client;
    // An unhandled 'error' event would kill the whole watcher; record it and let 'close' end the loop.
    client.on("error", (err: unknown) => {
      this.lastError = describeImapError(err, this.opts).message;
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
    try {
      await client.connect();
      const mailbox = await client.mailboxOpen(this.opts.folder);
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
      const result = await fn(client);
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
            size: msg.source.length,
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

  // BRIDGE (api worktree only, so the new MailProvider interface compiles here): core's IMAP
  // rewrite replaces these four with UID-cursor discovery. Drop them when merging.
  async fetchNew({ maxCount }: { maxCount: number; maxBytes: number }): Promise<FetchBatch> {
    const messages = await this.fetchUnread({ maxCount });
    return { messages, cursor: {}, more: messages.length >= maxCount };
  }

  async listRecent(_opts: { since: Date; limit: number }): Promise<string[]> {
    return [];
  }

  async fetchByIds(_ids: string[], _opts: { maxBytes: number }): Promise<FetchedMessage[]> {
    return [];
  }

  async applyAfterIngest(providerMessageIds: string[]): Promise<void> {
    await this.markAsRead(providerMessageIds);
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
      const timers: { timeout?: NodeJS.Timeout } = {};
      const finish = (result: WaitResult): void => {
        clearTimeout(timers.timeout);
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
      if (this.opts.useIdle) {
        // IDLE ends when the next command is sent; its rejection on a dropped socket surfaces as 'close'.
        client.idle().catch(() => {});
      }
    });
  }

  getHealthStatus(): ProviderHealth {
    return { connected: this.isConnected, lastActivityAt: this.lastActivityAt, lastError: this.lastError };
  }
}

function uidOf(providerMessageId: string): number {
  return Number(providerMessageId.slice(providerMessageId.indexOf(":") + 1));
}
