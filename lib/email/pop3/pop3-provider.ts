import { listStoredProviderIds } from "@/lib/db/queries/stored-provider-ids";
import { listSkippedPop3Uids, recordSkippedPop3Uids } from "@/lib/db/queries/pop3-skipped";
import type { MailAccess, SyncState } from "@/lib/db/schema";
import { DEFAULT_MAX_MESSAGE_BYTES, takeBatch } from "@/lib/email/api/api-http";
import { describePop3Error, Pop3Client, type Pop3ClientOptions, type Pop3Limits, type UidlEntry } from "./pop3-client";
import type { TlsMode } from "@/lib/email/mail-socket/tls-mode";
import { MailError, type FetchBatch, type FetchedMessage, type MailProvider, type ProviderHealth, type WaitResult } from "@/lib/email/provider";

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
  /**
   * Where a new mailbox starts. POP3 has no flags, so "unread" = every message on the server not
   * stored yet; "since" = those whose Date header is on/after startSince (read with TOP n 0);
   * "new_only" = none of what is there at the first connect (their UIDLs are recorded as skipped).
   */
  startMode?: "unread" | "since" | "new_only";
  startSince?: Date | null;
  /** SyncState.pop3BaselineAt: set once the start mode's baseline is taken. */
  baselineAt?: string;
  /** SyncState.pop3BacklogUids: the backlog a previous connection was working off. */
  backlogUids?: string[];
  /** SyncState.pop3AfterIngestPending: committed but maybe not deleted (delete-after-ingest only). */
  afterIngestPending?: string[];
  /** Larger messages (by LIST) are never RETRieved: their TOP 0 headers come back tooLarge. */
  maxMessageBytes?: number;
  /** UIDLs the start mode left out (pop3_skipped_uids); replaceable in tests. */
  listSkippedIds?: (args: { mailboxId: string; ids: readonly string[] }) => Promise<Set<string>>;
  recordSkippedIds?: (args: { mailboxId: string; ids: readonly string[] }) => Promise<void>;
};

type Session = {
  client: Pop3Client;
  /** The UIDL listing of this session: message numbers are only valid within it. */
  listing: UidlEntry[] | null;
  openedAt: number;
};

/**
 * A POP3 session sees the maildrop as it was at login (RFC 1939). During a long drain the session
 * is renewed after this long, so mail that arrived meanwhile is seen (and taken first, see fetchNew).
 */
const DRAIN_SESSION_MS = 5_000;

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
 * the stored row is the memory (plus the UIDLs the start mode skipped), so after-ingest needs nothing
 * at the server unless the mailbox deletes after ingest. Servers show new mail only to a new session and may lock the maildrop while
 * one is open, so each poll is one session: connect()/fetchNew() open it, waitForChange() ends it
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
  private readonly listSkippedIds: NonNullable<Pop3ProviderOptions["listSkippedIds"]>;
  private readonly recordSkippedIds: NonNullable<Pop3ProviderOptions["recordSkippedIds"]>;
  private readonly maxMessageBytes: number;
  /**
   * UIDLs of a backlog larger than one batch, as first seen by this connection (a first import, a
   * watcher that was down): mail not in it arrived later and goes first, so a large import never
   * holds back new mail. Cleared when the backlog is done. Committed with every batch
   * (pop3BacklogUids), so a restart keeps the order.
   */
  private backlogIds: Set<string> | null;
  /** Which of the backlog / delete lists were last committed non-empty (see pop3Progress). */
  private committedLists: CommittedLists;
  private baselineAt: string | undefined;

  constructor(private readonly opts: Pop3ProviderOptions) {
    this.listStoredIds = opts.listStoredIds ?? listStoredProviderIds;
    this.listSkippedIds = opts.listSkippedIds ?? listSkippedPop3Uids;
    this.recordSkippedIds = opts.recordSkippedIds ?? recordSkippedPop3Uids;
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.baselineAt = opts.baselineAt;
    this.backlogIds = opts.backlogUids?.length ? new Set(opts.backlogUids) : null;
    this.committedLists = { backlog: this.backlogIds !== null, pending: Boolean(opts.afterIngestPending?.length) };
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
    await this.applyPendingDeletes();
  }

  /**
   * Delete-after-ingest: the last batch committed before a crash may not have been DELEted; its
   * UIDLs are stored, so no fetch will name them again. Deleted here, once per provider (only those
   * the database confirms as stored, like every deletion). Best effort: a failure leaves them on the
   * server, which loses nothing.
   */
  private async applyPendingDeletes(): Promise<void> {
    const ids = this.opts.afterIngestPending ?? [];
    if (!this.opts.deleteAfterIngest || ids.length === 0) return;
    await this.applyAfterIngest(ids).catch(() => undefined);
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
    this.current = { client, listing: null, openedAt: Date.now() };
    return this.current;
  }

  /** QUIT (commits nothing here: deletions are committed by applyAfterIngest) and forget the session. Never throws. */
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

  /** Listed UIDLs (first per UIDL, arrival order) that are neither stored nor skipped by the start mode. */
  private async pendingEntries(session: Session): Promise<UidlEntry[]> {
    const candidates = firstPerUid(await this.listing(session));
    const ids = candidates.map((e) => e.uid);
    const stored = await this.storedIds(ids);
    const open = candidates.filter((e) => !stored.has(e.uid));
    const skipped = await this.skippedIds(open.map((e) => e.uid));
    return open.filter((e) => !skipped.has(e.uid));
  }

  private async skippedIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    try {
      return await this.listSkippedIds({ mailboxId: this.opts.mailboxId, ids });
    } catch (err) {
      throw new MailError("unknown", "Could not check which messages the start mode left out.", { cause: err });
    }
  }

  /**
   * First connect: records what the start mode leaves out. Idempotent (a baseline repeated after a
   * crash before the cursor was committed skips the same messages, plus any that arrived meanwhile
   * for new_only).
   */
  private async takeBaseline(session: Session, pending: UidlEntry[]): Promise<UidlEntry[]> {
    const mode = this.opts.startMode ?? "unread";
    let skip: UidlEntry[] = [];
    if (mode === "new_only") skip = pending;
    else if (mode === "since" && this.opts.startSince) {
      const since = this.opts.startSince.getTime();
      for (const entry of pending) {
        const headers = await session.client.top(entry.num, 0);
        const date = headers ? headerDate(headers) : null;
        // No readable date: keep it; importing one message too many beats losing one.
        if (date !== null && date < since) skip.push(entry);
      }
    }
    if (skip.length > 0) {
      try {
        await this.recordSkippedIds({ mailboxId: this.opts.mailboxId, ids: skip.map((e) => e.uid) });
      } catch (err) {
        throw new MailError("unknown", "Could not record where the mailbox starts.", { cause: err });
      }
    }
    const skipped = new Set(skip.map((e) => e.uid));
    return pending.filter((e) => !skipped.has(e.uid));
  }

  /**
   * Every listed message not stored yet (POP3 has no \Seen: the stored UIDLs are the cursor), oldest
   * first, within maxCount and maxBytes by LIST sizes. A message above maxMessageBytes is never
   * RETRieved: its TOP 0 header block comes back tooLarge.
   */
  async fetchNew({ maxCount, maxBytes }: { maxCount: number; maxBytes: number }): Promise<FetchBatch> {
    return this.run(async () => {
      if (this.backlogIds && this.current && Date.now() - this.current.openedAt > DRAIN_SESSION_MS) await this.endSession();
      const session = await this.session();
      let pending = await this.pendingEntries(session);
      const cursor: Partial<SyncState> = {};
      if (!this.baselineAt) {
        pending = await this.takeBaseline(session, pending);
        this.baselineAt = new Date().toISOString();
        cursor.pop3BaselineAt = this.baselineAt;
      }
      const sizes = await this.sizes(session);
      if (!this.backlogIds && pending.length > maxCount) this.backlogIds = new Set(pending.map((e) => e.uid));
      const backlog = this.backlogIds;
      if (backlog && !pending.some((e) => backlog.has(e.uid))) this.backlogIds = null;
      const ordered = orderLiveFirst(pending, this.backlogIds);
      const sized = ordered.map((e) => ({ ...e, size: sizes.get(e.num) ?? 0 }));
      const chosen = takeBatch(sized, { maxCount: Math.max(0, maxCount), maxBytes, maxMessageBytes: this.maxMessageBytes }).sort((a, b) => a.num - b.num);
      const messages = await this.retrieve(session, chosen);
      const progress = pop3Progress({
        ordered,
        taken: new Set(chosen.map((e) => e.uid)),
        backlog: this.backlogIds,
        deleteIds: this.opts.deleteAfterIngest ? messages.filter((m) => !m.tooLarge).map((m) => m.providerMessageId) : [],
        committed: this.committedLists,
      });
      this.committedLists = progress.committed;
      Object.assign(cursor, progress.cursor);
      return { messages, cursor, more: chosen.length < sized.length, backlog: sized.length - chosen.length };
    });
  }

  private async sizes(session: Session): Promise<Map<number, number>> {
    return new Map((await session.client.list()).map((e) => [e.num, e.size]));
  }

  private async retrieve(session: Session, entries: (UidlEntry & { size: number })[]): Promise<FetchedMessage[]> {
    const out: FetchedMessage[] = [];
    for (const entry of entries) {
      if (entry.size > this.maxMessageBytes) {
        const headers = await session.client.top(entry.num, 0);
        if (headers === null) continue;
        out.push({ providerMessageId: entry.uid, raw: headerBlockOf(headers), size: entry.size, tooLarge: true });
        continue;
      }
      const raw = await session.client.retr(entry.num);
      // -ERR: gone since UIDL (another client deleted it). Not stored, so tried again next poll if still there.
      if (raw === null) continue;
      out.push({ providerMessageId: entry.uid, raw, size: raw.length });
    }
    return out;
  }

  /** Reconcile: POP3 has no receive dates without a TOP per message, so every listed UIDL the start mode did not skip (newest last). */
  async listRecent({ limit }: { since: Date; limit: number }): Promise<string[]> {
    return this.run(async () => {
      const candidates = firstPerUid(await this.listing(await this.session()));
      const skipped = await this.skippedIds(candidates.map((e) => e.uid));
      return candidates.filter((e) => !skipped.has(e.uid)).slice(-Math.max(0, limit)).map((e) => e.uid);
    });
  }

  async fetchByIds(ids: string[], { maxBytes }: { maxBytes: number }): Promise<FetchedMessage[]> {
    return this.run(async () => {
      const session = await this.session();
      const wanted = new Set(ids);
      const sizes = await this.sizes(session);
      const entries = firstPerUid(await this.listing(session))
        .filter((e) => wanted.has(e.uid))
        .map((e) => ({ ...e, size: sizes.get(e.num) ?? 0 }));
      return this.retrieve(session, takeBatch(entries, { maxCount: entries.length, maxBytes, maxMessageBytes: this.maxMessageBytes }));
    });
  }

  /** Start-mode counts for Test / the settings form; `since` only for up to 500 candidates (a TOP each). */
  async countStartCandidates({ since }: { since?: Date }): Promise<{ unread: number; since: number | null; total: number }> {
    return this.run(async () => {
      const session = await this.session();
      const listing = firstPerUid(await this.listing(session));
      const pending = await this.pendingEntries(session);
      let sinceCount: number | null = null;
      if (since && pending.length <= 500) {
        sinceCount = 0;
        for (const e of pending) {
          const headers = await session.client.top(e.num, 0);
          const date = headers ? headerDate(headers) : null;
          if (date === null || date >= since.getTime()) sinceCount += 1;
        }
      }
      return { unread: pending.length, since: sinceCount, total: listing.length };
    });
  }

  /**
   * POP3 has no flags and no folders: mark_read and move do nothing here. With delete-after-ingest,
   * the committed ids are deleted (only those the database confirms as stored).
   */
  async applyAfterIngest(providerMessageIds: string[]): Promise<void> {
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

/** The header block of a TOP 0 answer (up to and including the blank line). */
function headerBlockOf(top: Buffer): Buffer {
  const crlf = top.indexOf("\r\n\r\n");
  if (crlf >= 0) return top.subarray(0, crlf + 4);
  const lf = top.indexOf("\n\n");
  return lf >= 0 ? top.subarray(0, lf + 2) : top;
}

type CommittedLists = { backlog: boolean; pending: boolean };

/**
 * What a POP3 batch commits besides its rows: the backlog UIDLs still to import after it, and
 * (delete-after-ingest) the UIDLs to DELE after the commit. A key is written while it has content
 * and once more, as null, to clear it; not on every poll.
 */
export function pop3Progress({
  ordered,
  taken,
  backlog,
  deleteIds,
  committed,
}: {
  ordered: readonly { uid: string }[];
  taken: ReadonlySet<string>;
  backlog: ReadonlySet<string> | null;
  deleteIds: readonly string[];
  committed: CommittedLists;
}): { cursor: Partial<SyncState>; committed: CommittedLists } {
  const cursor: Partial<SyncState> = {};
  const left = backlog ? ordered.filter((e) => backlog.has(e.uid) && !taken.has(e.uid)).map((e) => e.uid) : [];
  if (left.length > 0 || committed.backlog) cursor.pop3BacklogUids = left.length > 0 ? left : null;
  if (deleteIds.length > 0 || committed.pending) cursor.pop3AfterIngestPending = deleteIds.length > 0 ? [...deleteIds] : null;
  return { cursor, committed: { backlog: left.length > 0, pending: deleteIds.length > 0 } };
}

/** Mail that is not part of the backlog (it arrived during the drain) first, each part in maildrop order. */
export function orderLiveFirst<E extends { uid: string }>(pending: readonly E[], backlogIds: ReadonlySet<string> | null): E[] {
  if (!backlogIds) return [...pending];
  return [...pending.filter((e) => !backlogIds.has(e.uid)), ...pending.filter((e) => backlogIds.has(e.uid))];
}

/** Epoch ms of the Date header in a header block, or null when there is none or it does not parse. */
export function headerDate(headers: Buffer): number | null {
  const text = headerBlockOf(headers).toString("latin1").replace(/\r?\n[ \t]+/g, " ");
  const match = /^date:[ \t]*(.+)$/im.exec(text);
  if (!match?.[1]) return null;
  // Comments such as "(UTC)" are legal in RFC 5322 dates and trip Date.parse.
  const at = Date.parse(match[1].replace(/\([^)]*\)/g, "").trim());
  return Number.isNaN(at) ? null : at;
}

/**
 * One login and UIDL listing, for the settings page's "Test connection": how many messages the
 * server holds. Throws MailError.
 */
export async function probePop3Mailbox(
  opts: Omit<
    Pop3ProviderOptions,
    "mailboxId" | "pollIntervalMs" | "deleteAfterIngest" | "listStoredIds" | "listSkippedIds" | "recordSkippedIds" | "startMode" | "startSince" | "baselineAt" | "maxMessageBytes"
  >,
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
