import { listStoredProviderIds } from "../db/queries/pop3";
import type { MailAccess } from "../db/schema";
import { describePop3Error, Pop3Client, type Pop3ClientOptions, type Pop3Limits, type UidlEntry } from "./pop3-client";
import type { TlsMode } from "./tls-mode";
import { MailError, type LegacyFetchedMessage as FetchedMessage, type LegacyMailProvider as MailProvider, type ProviderHealth, type WaitResult } from "./provider";

export type Pop3ProviderOptions = {
  /** Stored rows of this mailbox are what POP3 "read" means. */
  mailboxId: string;
  host: string;
  /** The checked address to connect to (resolveMailHost), and the TLS name to verify. */
  address?: string;
  servername?: string;
  port: number;
  /** implicit TLS (995), STLS required, or plaintext (only when chosen). */
  tlsMode: TlsMode;
  /** Line and listing limits (defaults: pop3-client DEFAULT_POP3_LIMITS). */
  limits?: Partial<Pop3Limits>;
  allowInvalidCertificate: boolean;
  /** PEM trust anchors added to the system's, for private CAs. */
  ca?: string;
  auth: { user: string; pass: string };
  /** USER/PASS (default) or APOP (needs the timestamp in the server's greeting). */
  loginMethod?: "user" | "apop";
  /** POP3 has no push: the mailbox is polled this often, whatever the loop's timeout says. */
  pollIntervalMs: number;
  /** Delete messages from the server once their rows are committed (off by default). */
  deleteAfterIngest: boolean;
  connectTimeoutMs: number;
  /** Longest silence while waiting for a reply; defaults to connectTimeoutMs. */
  commandTimeoutMs?: number;
  /** Which UIDLs the database holds for the mailbox; replaceable in tests. */
  listStoredIds?: (args: { mailboxId: string; ids: readonly string[] }) => Promise<Set<string>>;
};

type Session = {
  client: Pop3Client;
  /** The UIDL listing of this session: message numbers are only valid within it. */
  listing: UidlEntry[] | null;
};

/** Message number for each UIDL listed exactly once; a UIDL listed twice (a broken server) is never deleted. */
function uniqueNumbers(listing: UidlEntry[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of listing) counts.set(e.uid, (counts.get(e.uid) ?? 0) + 1);
  const out = new Map<string, number>();
  for (const e of listing) if (counts.get(e.uid) === 1) out.set(e.uid, e.num);
  return out;
}

/** The first message of each UIDL, in message-number (arrival) order. */
function firstPerUid(listing: UidlEntry[]): UidlEntry[] {
  const seen = new Set<string>();
  return listing.filter((e) => !seen.has(e.uid) && (seen.add(e.uid), true));
}

/**
 * POP3 behind the MailProvider interface.
 *
 * POP3 has no \Seen flag and no push. "Unread" = listed by UIDL and not yet stored for this mailbox;
 * the stored row is the memory, so "mark as read" needs nothing at the server unless the mailbox
 * deletes after ingest. Servers show new mail only to a new session and may lock the maildrop while
 * one is open, so each poll is one session: connect()/fetchUnread() open it, waitForChange() ends it
 * with QUIT and sleeps for the poll interval. Deletion maps UIDLs to message numbers with a UIDL of
 * the same session, DELEs only ids that were passed in and are confirmed stored, then QUITs at once so
 * the deletions are committed; a session that ends any other way deletes nothing.
 */
export class Pop3Provider implements MailProvider {
  readonly access: MailAccess = "pop3";
  private active = false;
  private healthy = false;
  private current: Session | null = null;
  private lastActivityAt: Date | null = null;
  private lastError: string | null = null;
  private readonly closeListeners = new Set<() => void>();
  private readonly listStoredIds: NonNullable<Pop3ProviderOptions["listStoredIds"]>;

  constructor(private readonly opts: Pop3ProviderOptions) {
    this.listStoredIds = opts.listStoredIds ?? listStoredProviderIds;
  }

  get isConnected(): boolean {
    return this.active && this.healthy;
  }

  private get where(): { host: string; port: number } {
    return { host: this.opts.host, port: this.opts.port };
  }

  async connect(): Promise<void> {
    await this.disconnect();
    this.active = true;
    try {
      await this.run(() => this.session());
    } catch (err) {
      this.active = false;
      throw err;
    }
  }

  async disconnect(): Promise<void> {
    this.active = false;
    this.healthy = false;
    for (const fn of [...this.closeListeners]) fn();
    await this.endSession();
  }

  private clientOptions(): Pop3ClientOptions {
    return {
      host: this.opts.host,
      ...(this.opts.address ? { address: this.opts.address } : {}),
      ...(this.opts.servername ? { servername: this.opts.servername } : {}),
      port: this.opts.port,
      tls: this.opts.tlsMode,
      ...(this.opts.limits ? { limits: this.opts.limits } : {}),
      tlsOptions: {
        rejectUnauthorized: !this.opts.allowInvalidCertificate,
        ...(this.opts.ca ? { ca: this.opts.ca } : {}),
      },
      connectTimeoutMs: this.opts.connectTimeoutMs,
      idleTimeoutMs: this.opts.commandTimeoutMs ?? this.opts.connectTimeoutMs,
    };
  }

  /** The open session, or a new one (connect + login) if the last one ended. */
  private async session(): Promise<Session> {
    if (!this.active) throw new MailError("network", "The POP3 connection is closed.");
    if (this.current?.client.isOpen) return this.current;
    this.current?.client.close();
    this.current = null;
    const client = await Pop3Client.connect(this.clientOptions());
    try {
      await client.login(this.opts.auth.user, this.opts.auth.pass, this.opts.loginMethod ?? "user");
    } catch (err) {
      client.close();
      throw err;
    }
    if (!this.active) {
      client.close();
      throw new MailError("network", "The POP3 connection is closed.");
    }
    this.current = { client, listing: null };
    return this.current;
  }

  /** QUIT (commits nothing here: deletions are committed by markAsRead) and forget the session. Never throws. */
  private async endSession(): Promise<void> {
    const session = this.current;
    this.current = null;
    if (!session) return;
    const { client } = session;
    if (client.isOpen && !client.isBusy) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([client.quit().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
    }
    client.close();
  }

  private async listing(session: Session): Promise<UidlEntry[]> {
    session.listing ??= await session.client.uidl();
    return session.listing;
  }

  private async storedIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    try {
      return await this.listStoredIds({ mailboxId: this.opts.mailboxId, ids });
    } catch (err) {
      throw new MailError("unknown", "Could not check which messages are already stored.", { cause: err });
    }
  }

  /** Runs one operation; on failure drops the session (no QUIT, so nothing marked deleted is removed). */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      const result = await fn();
      this.lastActivityAt = new Date();
      this.healthy = true;
      this.lastError = null;
      return result;
    } catch (err) {
      const mailError = describePop3Error(err, this.where);
      this.healthy = false;
      this.lastError = mailError.message;
      const session = this.current;
      this.current = null;
      session?.client.close();
      throw mailError;
    }
  }

  async fetchUnread({ maxCount }: { maxCount: number }): Promise<FetchedMessage[]> {
    return this.run(async () => {
      const session = await this.session();
      const candidates = firstPerUid(await this.listing(session));
      const stored = await this.storedIds(candidates.map((e) => e.uid));
      const fresh = candidates.filter((e) => !stored.has(e.uid)).slice(0, Math.max(0, maxCount));
      const out: FetchedMessage[] = [];
      for (const entry of fresh) {
        const raw = await session.client.retr(entry.num);
        // -ERR: gone since UIDL (another client deleted it). Not stored, so tried again next poll if still there.
        if (raw === null) continue;
        out.push({ providerMessageId: entry.uid, raw });
      }
      return out;
    });
  }

  async countUnread(): Promise<number> {
    return this.run(async () => {
      const candidates = firstPerUid(await this.listing(await this.session()));
      const stored = await this.storedIds(candidates.map((e) => e.uid));
      return candidates.filter((e) => !stored.has(e.uid)).length;
    });
  }

  /** The committed rows already remember these ids; with delete-after-ingest they are also deleted. */
  async markAsRead(providerMessageIds: string[]): Promise<void> {
    if (!this.opts.deleteAfterIngest || providerMessageIds.length === 0) return;
    await this.run(async () => {
      const session = await this.session();
      const numbers = uniqueNumbers(await this.listing(session));
      const wanted = [...new Set(providerMessageIds)].filter((id) => numbers.has(id));
      // Only what the database confirms as committed is deleted, whatever the caller passed.
      const stored = await this.storedIds(wanted);
      let marked = 0;
      for (const id of wanted) {
        const num = numbers.get(id);
        if (num === undefined || !stored.has(id)) continue;
        if (await session.client.dele(num)) marked += 1;
      }
      if (marked === 0) return;
      // QUIT now, in the session whose numbers were used: the deletions happen only on a clean QUIT.
      this.current = null;
      await session.client.quit();
    });
  }

  /** Ends the session (so the next poll sees new mail) and sleeps for the poll interval. */
  async waitForChange({ signal }: { timeoutMs: number; signal: AbortSignal }): Promise<WaitResult> {
    if (!this.active) return "closed";
    await this.endSession();
    if (!this.active || signal.aborted) return "closed";
    return new Promise<WaitResult>((resolve) => {
      const finish = (result: WaitResult): void => {
        clearTimeout(timer);
        this.closeListeners.delete(onClose);
        signal.removeEventListener("abort", onClose);
        resolve(result);
      };
      const onClose = (): void => finish("closed");
      const timer = setTimeout(() => finish("timeout"), this.opts.pollIntervalMs);
      this.closeListeners.add(onClose);
      signal.addEventListener("abort", onClose, { once: true });
    });
  }

  getHealthStatus(): ProviderHealth {
    return { connected: this.isConnected, lastActivityAt: this.lastActivityAt, lastError: this.lastError };
  }
}

/**
 * One login and UIDL listing, for the settings page's "Test connection": how many messages the
 * server holds. Throws MailError.
 */
export async function probePop3Mailbox(
  opts: Omit<Pop3ProviderOptions, "mailboxId" | "pollIntervalMs" | "deleteAfterIngest" | "listStoredIds">,
): Promise<{ messages: number }> {
  const where = { host: opts.host, port: opts.port };
  let client: Pop3Client | null = null;
  try {
    client = await Pop3Client.connect({
      host: opts.host,
      ...(opts.address ? { address: opts.address } : {}),
      ...(opts.servername ? { servername: opts.servername } : {}),
      port: opts.port,
      tls: opts.tlsMode,
      ...(opts.limits ? { limits: opts.limits } : {}),
      tlsOptions: { rejectUnauthorized: !opts.allowInvalidCertificate, ...(opts.ca ? { ca: opts.ca } : {}) },
      connectTimeoutMs: opts.connectTimeoutMs,
      idleTimeoutMs: opts.commandTimeoutMs ?? opts.connectTimeoutMs,
      // The Test button waits on this: a server trickling a byte now and then must not hold it for
      // the 10 minutes a real RETR may take. Login, UIDL and QUIT replies are small.
      replyTimeoutMs: 2 * (opts.commandTimeoutMs ?? opts.connectTimeoutMs),
    });
    await client.login(opts.auth.user, opts.auth.pass, opts.loginMethod ?? "user");
    const listing = await client.uidl();
    await client.quit();
    return { messages: listing.length };
  } catch (err) {
    throw describePop3Error(err, where);
  } finally {
    client?.close();
  }
}
