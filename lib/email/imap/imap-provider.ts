import type { Socket } from "node:net";
import { ImapFlow, type ImapFlowOptions } from "imapflow";
import type { MailAccess, SyncState } from "@/lib/db/schema";
import { describeImapError } from "@/lib/email/mail-socket/socket-errors";
import { imapTlsSwitches, type TlsMode } from "@/lib/email/mail-socket/tls-mode";
import {
  advanceImapCursor,
  advanceLiveCursor,
  baselineCursor,
  formatUidSet,
  imapCursorPatch,
  parseUidSet,
  pendingBaselineUids,
  planImapBatch,
  planImapOpen,
  reconcilableUids,
  type ImapCursor,
  type MessageMeta,
} from "./imap-cursor-plan";
import {
  MailError,
  type FetchBatch,
  type FetchedMessage,
  type MailProvider,
  type ProviderHealth,
  type ProviderSyncOptions,
  type StartCandidateCounts,
  type WaitResult,
} from "@/lib/email/provider";
import {
  imapSocketTimeoutMs,
  livenessFromEnv,
  noAnswerError,
  ServerActivity,
  startIdleWatchdog,
  askWaitingServer,
  type ProbeTarget,
  withResponseTimeout,
  type IdleWatchdog,
  type ImapLivenessSettings,
} from "./imap-liveness";
import { EndpointSentinels, endpointKey, idleBoundMs } from "./endpoint-sentinel";

/**
 * Every connection of this process, per server endpoint: the first one there is asked at the short
 * sentinel bound, a death found on any of them asks all the others at once (endpoint-sentinel.ts).
 */
const endpointSentinels = new EndpointSentinels<ImapProvider>();

export type ImapAuth = { user: string; pass: string } | { user: string; accessToken: string };

export type ImapProviderOptions = {
  /** The address to connect to (resolveMailHost's checked address, never a name to look up again). */
  host: string;
  /** TLS SNI and certificate name when `host` is an address. */
  servername?: string;
  port: number;
  /** implicit TLS (993), STARTTLS required, or plaintext (only when chosen). */
  tlsMode: TlsMode;
  /** Longest line and largest response the server may send (EMAIL_MAX_LINE_BYTES / EMAIL_MAX_RESPONSE_BYTES). */
  limits?: { maxLineBytes: number; maxResponseBytes: number };
  allowInvalidCertificate: boolean;
  /** PEM trust anchors added to the system's, for private CAs. */
  ca?: string;
  auth: ImapAuth;
  folder: string;
  useIdle: boolean;
  /** How often IDLE is re-issued (RFC 2177 asks clients to re-IDLE before 29 minutes). */
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  /** Command timeout and IDLE watchdog (imap-liveness.ts); defaults: 30 s, 95 s IDLE / 60 s polling silence, 10 s probe. */
  liveness?: ImapLivenessSettings;
  onLog?: (entry: { level: string; msg: string }) => void;
  /** Reads the committed cursor at each connect (overrides `cursor`). */
  loadCursor?: () => Promise<SyncState>;
} & Partial<ProviderSyncOptions>;

const MAX_INT4 = 2_147_483_647;
/** Room above the message cap for the FETCH framing around a literal (imapflow's response limit). */
const RESPONSE_HEADROOM = 1024 * 1024;
/** Header blocks of too-large messages are capped too: a hostile server could send a huge "header". */
const MAX_HEADER_BYTES = 1024 * 1024;
/** Bodies up to this size come with the steady-state listing itself (one command per new message). */
const FAST_SLICE_BYTES = 256 * 1024;

/** IMAP on imapflow. A new ImapFlow object per connect(): a closed one cannot be reused. */
export class ImapProvider implements MailProvider {
  readonly access: MailAccess = "imap";
  private client: ImapFlow | null = null;
  private uidValidity = "";
  /** Set by EXISTS pushes; read and cleared by waitForChange so none is lost between commands. */
  private changePending = false;
  /** The durable cursor as this session knows it (imap-cursor-plan.ts); set when the folder opens. */
  private cursor: ImapCursor | null = null;
  /**
   * Messages above the cursor already listed (UID + size) but not yet fetched: a backlog is listed
   * once per drain, not once per batch. UIDs only grow, so a stale listing is never wrong.
   */
  private listing: MessageMeta[] = [];
  private listedThrough = 0;
  /** The listing holds baseline UIDs (below the baseline's UIDNEXT), not a `lastUid+1:*` range. */
  private listingIsBaseline = false;
  /**
   * EXISTS when the last `lastUid+1:*` listing was taken; -1 when unknown (a new session, whose
   * backlog may be any size). Lets the steady state list and fetch new mail in ONE command.
   */
  private existsAtListing = -1;
  /** Whole sources that came with the one-command listing, by UID. */
  private prefetched = new Map<number, Buffer>();
  /** The last committed batch's UIDs whose after-ingest may not have run before a crash. */
  private pendingAfterIngest: number[] = [];
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
  /** The endpoint this connection is registered under while connected, for the sentinel role. */
  private joinedEndpoint: string | null = null;
  /** The current wait's watchdog, so another connection to the endpoint can have it ask now. */
  private waitWatchdog: IdleWatchdog | null = null;
  /**
   * A server announced a small RFC822.SIZE and then sent a literal above the cap: imapflow refused
   * it at the `{n}` marker (nothing buffered) and ended the connection. The literal's length.
   */
  private literalOverflow: number | null = null;
  /** Set by fetchPlanned when such a literal ended the connection: the batch stops at this UID. */
  private cutAtUid: number | null = null;

  constructor(private readonly opts: ImapProviderOptions) {
    this.liveness = opts.liveness ?? livenessFromEnv({ EMAIL_COMMAND_TIMEOUT_SECONDS: 30, EMAIL_IDLE_SILENCE_SECONDS: 60 });
  }

  /** The server as the admin typed it (not the checked address we connect to), for messages. */
  private get where(): string {
    return `${this.opts.servername ?? this.opts.host}:${this.opts.port}`;
  }

  /** Registers this connection under its endpoint (host, port and the address the socket reached) for the sentinel role. */
  private joinEndpoint(client: ImapFlow): void {
    this.leaveEndpoint();
    const address = (client as unknown as { socket?: Socket }).socket?.remoteAddress;
    this.joinedEndpoint = endpointKey({ host: this.opts.host, port: this.opts.port, address });
    endpointSentinels.join(this.joinedEndpoint, this);
  }

  private leaveEndpoint(): void {
    if (this.joinedEndpoint === null) return;
    const successor = endpointSentinels.leave(this.joinedEndpoint, this);
    this.joinedEndpoint = null;
    // The new sentinel's bound just got shorter: its pending deadline must follow.
    successor?.waitWatchdog?.reschedule();
  }

  /** This connection's IDLE bound: the sentinel's while it is its endpoint's sentinel. */
  private idleKeepaliveMs(): number {
    const passiveBoundMs = this.liveness.keepaliveSilenceMs ?? 0;
    const sentinelBoundMs = this.liveness.sentinelSilenceMs ?? passiveBoundMs;
    const isSentinel = this.joinedEndpoint === null || endpointSentinels.isSentinel(this.joinedEndpoint, this);
    return idleBoundMs({ isSentinel, sentinelBoundMs, passiveBoundMs });
  }

  /**
   * Ends a connection the server stopped answering on. The error is recorded first so the 'close'
   * that follows reports it (the watcher reads lastError when waitForChange says "closed").
   */
  private abandon(client: ImapFlow, err: MailError): void {
    if (this.client !== client) return;
    // A path that stopped answering (a silent IDLE or a command) is likely dead for every flow to
    // this endpoint (a frozen NAT, firewall or proxy): the others are asked now, not after their
    // passive bound. Taken before close(): 'close' takes this connection off the endpoint.
    const suspects = this.joinedEndpoint === null ? [] : endpointSentinels.suspectsAfterDeath(this.joinedEndpoint, this);
    this.abandonedWith = err;
    this.lastError = err.message;
    client.close();
    for (const other of suspects) other.waitWatchdog?.askNow();
  }

  /** Errors name the server as the admin typed it, not the address we connected to. */
  private get errorContext(): { host: string; port: number; folder: string } {
    return { host: this.opts.servername ?? this.opts.host, port: this.opts.port, folder: this.opts.folder };
  }

  get isConnected(): boolean {
    return !this.closed && this.client?.usable === true;
  }

  /** imapflow's options; `maxLiteralBytes` lowers the literal cap (the header-only side connection). */
  private flowOptions(maxLiteralBytes = this.maxMessageBytes + RESPONSE_HEADROOM): ImapFlowOptions {
    return {
      host: this.opts.host,
      ...(this.opts.servername ? { servername: this.opts.servername } : {}),
      port: this.opts.port,
      ...imapTlsSwitches(this.opts.tlsMode),
      ...(this.opts.limits
        ? {
            maxLineLength: this.opts.limits.maxLineBytes,
            maxLiteralSize: this.opts.limits.maxResponseBytes,
            maxResponseSize: this.opts.limits.maxResponseBytes + this.opts.limits.maxLineBytes,
          }
        : {}),
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
      // Bounded memory whatever the server sends: no literal above the message cap (bodies of
      // larger messages are never requested, see fetchNew), no runaway line or response.
      maxLiteralSize: maxLiteralBytes,
      maxResponseSize: maxLiteralBytes + RESPONSE_HEADROOM,
      maxLineLength: 16 * 1024 * 1024,
    };
  }

  async connect(): Promise<void> {
    await this.disconnect();
    const client = new ImapFlow(this.flowOptions());
    this.client = client;
    // An unhandled 'error' event would kill the whole watcher; record it and let 'close' end the loop.
    this.abandonedWith = null;
    this.literalOverflow = null;
    client.on("error", (err: unknown) => {
      const overflow = literalOverflowOf(err);
      if (overflow !== null && this.client === client) this.literalOverflow = overflow;
      this.lastError = this.abandonedWith?.message ?? describeImapError(err, this.errorContext).message;
    });
    client.on("close", () => {
      if (this.client !== client) return;
      this.leaveEndpoint();
      this.closed = true;
      for (const fn of this.closeListeners) fn();
    });
    client.on("exists", () => {
      this.changePending = true;
      for (const fn of this.changeListeners) fn();
    });
    // Under IDLE the server is asked only after the longer keepalive silence (Dovecot speaks every 120 s).
    const activity = new ServerActivity(undefined, { trustsKeepalive: this.opts.useIdle === true });
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
      this.listing = [];
      this.listedThrough = 0;
      this.listingIsBaseline = false;
      this.existsAtListing = -1;
      this.prefetched.clear();
      const state = this.opts.loadCursor ? await this.opts.loadCursor() : (this.opts.cursor ?? {});
      this.cursor = await this.openCursor(client, state, Number(mailbox.uidNext) || 1);
      this.closed = false;
      this.joinEndpoint(client);
      this.lastActivityAt = new Date();
      this.lastError = null;
      await this.applyPendingAfterIngest();
    } catch (err) {
      const mailError = describeImapError(err, this.errorContext);
      this.lastError = mailError.message;
      await this.disconnect();
      throw mailError;
    }
  }

  async disconnect(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.closed = true;
    this.leaveEndpoint();
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
      const mailError = describeImapError(err, this.errorContext);
      this.lastError = mailError.message;
      throw mailError;
    }
  }

  private get maxMessageBytes(): number {
    return this.opts.maxMessageBytes ?? 50 * 1024 * 1024;
  }

  /** The cursor to continue from, or a new baseline per the start mode (imap-cursor-plan.ts). */
  private async openCursor(client: ImapFlow, state: SyncState, uidNext: number): Promise<ImapCursor> {
    const plan = planImapOpen({
      state,
      folder: this.opts.folder,
      uidValidity: this.uidValidity,
      startMode: this.opts.startMode ?? "unread",
      startSince: this.opts.startSince ?? null,
    });
    if (plan.kind === "resume") {
      this.pendingAfterIngest = state.imapAfterIngestPending ? parseUidSet(state.imapAfterIngestPending) : [];
      return plan.cursor;
    }
    let found: number[] = [];
    if (plan.search) {
      const query = "unseen" in plan.search ? { seen: false } : { since: plan.search.since };
      found = (await client.search(query, { uid: true })) || [];
    }
    return baselineCursor({
      uidValidity: this.uidValidity,
      folder: this.opts.folder,
      uidNext,
      found,
      ...(plan.lastReceivedAt ? { lastReceivedAt: plan.lastReceivedAt } : {}),
    });
  }

  private requireCursor(): ImapCursor {
    if (!this.cursor) throw new MailError("network", "The IMAP connection is closed.");
    return this.cursor;
  }

  /**
   * Everything above the cursor, read or unread, in batches bounded by count and bytes. The
   * listing (UID RFC822.SIZE INTERNALDATE) comes first so no body above the cap is ever requested.
   */
  async fetchNew({ maxCount, maxBytes }: { maxCount: number; maxBytes: number }): Promise<FetchBatch> {
    this.changePending = false;
    let cursor = this.requireCursor();
    if (cursor.baseline && pendingBaselineUids(cursor, 1).length === 0) {
      // Nothing of the baseline is left above the cursor: it is done (the cursor joins the live one).
      cursor = advanceImapCursor(cursor, cursor.baseline.uidNext - 1);
      this.cursor = cursor;
      this.listing = [];
      this.listingIsBaseline = false;
    }
    if (cursor.baseline) return this.fetchDuringBaseline(cursor, { maxCount, maxBytes });
    if (this.listing.filter((m) => m.uid > cursor.lastUid).length === 0) {
      cursor = await this.refillListing(cursor, maxCount);
      this.cursor = cursor;
    }
    const plan = planImapBatch({
      listing: this.listing,
      lastUid: cursor.lastUid,
      listedThrough: this.listedThrough,
      maxCount,
      maxBytes,
      maxMessageBytes: this.maxMessageBytes,
    });
    const messages = await this.fetchPlanned(plan.whole, plan.headersOnly);
    const cut = this.takeCut();
    this.listing = plan.rest;
    const next = advanceImapCursor(cursor, cut ?? plan.lastUid, newestOf(messages));
    this.cursor = next;
    return {
      messages,
      cursor: this.cursorPatch(next, messages),
      // A cut batch ended the connection: the watcher reconnects and continues after the cut.
      more: cut === null && plan.rest.length > 0,
      backlog: plan.rest.length,
    };
  }

  /**
   * A batch while a baseline (first import, re-baseline) runs: mail that arrived after the first
   * connect (above the live cursor) first, then the rest of the batch's count and bytes from the
   * backlog. So new mail waits at most one batch, whatever the size of the first import; both
   * cursors commit with the rows (imap-cursor-plan.ts).
   */
  private async fetchDuringBaseline(start: ImapCursor, { maxCount, maxBytes }: { maxCount: number; maxBytes: number }): Promise<FetchBatch> {
    let cursor = start;
    const baseline = cursor.baseline!;
    // `n:*` also returns the folder's last message when nothing is above n: planImapBatch drops it.
    const live = await this.listMeta(`${baseline.liveLastUid + 1}:*`);
    const livePlan = planImapBatch({
      listing: live,
      lastUid: baseline.liveLastUid,
      listedThrough: live.reduce((max, m) => Math.max(max, m.uid), baseline.liveLastUid),
      maxCount,
      maxBytes,
      maxMessageBytes: this.maxMessageBytes,
    });
    const liveCount = livePlan.whole.length + livePlan.headersOnly.length;
    const liveBytes = livePlan.whole.reduce((sum, m) => sum + m.size, 0);
    const messages = await this.fetchPlanned(livePlan.whole, livePlan.headersOnly);
    let cut = this.takeCut();
    cursor = advanceLiveCursor(cursor, cut ?? livePlan.lastUid, newestOf(messages));

    let backlogRest = 0;
    if (cut === null && liveCount < maxCount && (liveCount === 0 || liveBytes < maxBytes)) {
      if (!this.listingIsBaseline || this.listing.filter((m) => m.uid > cursor.lastUid).length === 0) {
        // The whole rest of the baseline (UID + size) is listed once per session, not per batch.
        this.listing = await this.listMeta(pendingBaselineUids(cursor));
        this.listedThrough = baseline.uidNext - 1;
        this.listingIsBaseline = true;
      }
      const plan = planImapBatch({
        listing: this.listing,
        lastUid: cursor.lastUid,
        listedThrough: this.listedThrough,
        maxCount: maxCount - liveCount,
        maxBytes: liveCount === 0 ? maxBytes : maxBytes - liveBytes,
        maxMessageBytes: this.maxMessageBytes,
      });
      const backlog = await this.fetchPlanned(plan.whole, plan.headersOnly);
      cut = this.takeCut();
      messages.push(...backlog);
      this.listing = plan.rest;
      cursor = advanceImapCursor(cursor, cut ?? plan.lastUid, newestOf(backlog));
      backlogRest = plan.rest.length;
    }
    if (!cursor.baseline) {
      this.listingIsBaseline = false;
      this.listing = [];
    }
    this.cursor = cursor;
    const pending = cursor.baseline ? pendingBaselineUids(cursor).length : backlogRest;
    return {
      messages,
      cursor: this.cursorPatch(cursor, messages),
      // A finished baseline still leaves the range above the joined cursor to list: call again
      // (unless a cut ended the connection: the watcher reconnects first).
      more: cut === null,
      backlog: pending + livePlan.rest.length,
    };
  }

  /** The UID a batch was cut at by an oversized literal (fetchPlanned), once. */
  private takeCut(): number | null {
    const cut = this.cutAtUid;
    this.cutAtUid = null;
    return cut;
  }

  /**
   * The cursor committed with the rows. The after-ingest action that follows the commit clears
   * imapAfterIngestPending with the next batch; a crash in between re-applies it at the next connect.
   */
  private cursorPatch(cursor: ImapCursor, messages: FetchedMessage[]): Partial<SyncState> {
    return {
      ...imapCursorPatch(cursor),
      imapAfterIngestPending: formatUidSet(messages.filter((m) => !m.tooLarge).map((m) => uidOf(m.providerMessageId))),
    };
  }

  /** Lists what waits above the cursor: `lastUid+1:*` (no baseline is running). */
  private async refillListing(cursor: ImapCursor, maxCount: number): Promise<ImapCursor> {
    this.listingIsBaseline = false;
    const exists = this.client?.mailbox ? this.client.mailbox.exists : 0;
    const announced = exists - this.existsAtListing;
    // Steady state (IDLE said a few messages arrived): sizes AND small bodies in one command, so a
    // new message costs one UID FETCH as before. Slices are capped, so the buffer stays bounded; a
    // message longer than its slice is fetched whole (or headers only) by the plan below.
    const fast = this.existsAtListing >= 0 && announced >= 0 && announced <= maxCount;
    this.existsAtListing = exists;
    this.listing = await this.listMeta(`${cursor.lastUid + 1}:*`, fast ? Math.min(FAST_SLICE_BYTES, this.maxMessageBytes) : 0);
    this.listedThrough = this.listing.reduce((max, m) => Math.max(max, m.uid), cursor.lastUid);
    return cursor;
  }

  private async listMeta(range: number[] | string, sliceBytes = 0): Promise<MessageMeta[]> {
    if (Array.isArray(range) && range.length === 0) return [];
    return this.run(async (client) => {
      const out: MessageMeta[] = [];
      const query = { uid: true, size: true, internalDate: true, ...(sliceBytes > 0 ? { source: { maxLength: sliceBytes } } : {}) };
      for await (const msg of client.fetch(range, query, { uid: true })) {
        // A slice that holds the whole message (its length is the announced size) is the body.
        if (msg.source && typeof msg.size === "number" && msg.source.length === msg.size) this.prefetched.set(msg.uid, msg.source);
        const internalDate = msg.internalDate ? new Date(msg.internalDate) : undefined;
        out.push({
          uid: msg.uid,
          size: typeof msg.size === "number" ? msg.size : 0,
          ...(internalDate && !Number.isNaN(internalDate.getTime()) ? { internalDate } : {}),
        });
      }
      return out.sort((a, b) => a.uid - b.uid);
    });
  }

  /**
   * Bodies for the small ones (BODY.PEEK[] leaves \Seen alone), header blocks for the too-large
   * ones. A UID missing from the answer was expunged meanwhile: it is skipped, the cursor passes it.
   */
  private async fetchPlanned(whole: MessageMeta[], headersOnly: MessageMeta[]): Promise<FetchedMessage[]> {
    const out: FetchedMessage[] = [];
    const meta = new Map([...whole, ...headersOnly].map((m) => [m.uid, m]));
    const toMessage = (uid: number, raw: Buffer, tooLarge: boolean): FetchedMessage => {
      const m = meta.get(uid);
      return {
        providerMessageId: `${this.uidValidity}:${uid}`,
        raw,
        size: m?.size ?? raw.length,
        ...(m?.internalDate ? { receivedAt: m.internalDate } : {}),
        ...(tooLarge ? { tooLarge: true } : {}),
      };
    };
    const missing: MessageMeta[] = [];
    for (const m of whole) {
      const source = this.prefetched.get(m.uid);
      this.prefetched.delete(m.uid);
      if (source) out.push(toMessage(m.uid, source, false));
      else missing.push(m);
    }
    if (missing.length > 0) {
      const received = new Set<number>();
      try {
        await this.run(async (client) => {
          for await (const msg of client.fetch(missing.map((m) => m.uid), { uid: true, source: true }, { uid: true })) {
            if (msg.source && meta.has(msg.uid)) {
              out.push(toMessage(msg.uid, msg.source, false));
              received.add(msg.uid);
            }
          }
        });
      } catch (err) {
        // The server announced a size under the cap and then sent a larger literal. Servers answer
        // a UID FETCH in UID order, so it is the first requested message not received. Recorded
        // too_large (announced and observed size, headers through a side connection), the cursor
        // stops right after it: the rest of the batch comes with the next connection.
        const culprit = this.literalOverflow !== null ? missing.find((m) => !received.has(m.uid)) : undefined;
        if (!culprit) throw err;
        const observed = this.literalOverflow!;
        this.literalOverflow = null;
        this.cutAtUid = culprit.uid;
        const headers = await this.fetchHeadersAside(culprit.uid);
        out.push({ ...toMessage(culprit.uid, headers, true), observedSize: observed });
        return out.filter((m) => uidOf(m.providerMessageId) <= culprit.uid).sort((a, b) => uidOf(a.providerMessageId) - uidOf(b.providerMessageId));
      }
    }
    if (headersOnly.length > 0) {
      await this.run(async (client) => {
        const query = { uid: true, headers: true };
        for await (const msg of client.fetch(headersOnly.map((m) => m.uid), query, { uid: true })) {
          if (!meta.has(msg.uid)) continue;
          const headers = msg.headers ?? Buffer.alloc(0);
          out.push(toMessage(msg.uid, headers.subarray(0, MAX_HEADER_BYTES), true));
        }
      });
    }
    return out.sort((a, b) => uidOf(a.providerMessageId) - uidOf(b.providerMessageId));
  }

  /**
   * The header block of one message over a short second connection (the first one ended on its
   * oversized literal), with the literal cap at the header cap. Best effort: a server that lies
   * about the headers too, or refuses, leaves the record without headers.
   */
  private async fetchHeadersAside(uid: number): Promise<Buffer> {
    const client = new ImapFlow(this.flowOptions(MAX_HEADER_BYTES));
    client.on("error", () => {});
    const timer = setTimeout(() => client.close(), this.opts.connectTimeoutMs + this.liveness.commandTimeoutMs);
    try {
      await client.connect();
      await client.mailboxOpen(this.opts.folder, { readOnly: true });
      const msg = await client.fetchOne(String(uid), { uid: true, headers: true }, { uid: true });
      return msg && msg.headers ? msg.headers.subarray(0, MAX_HEADER_BYTES) : Buffer.alloc(0);
    } catch {
      return Buffer.alloc(0);
    } finally {
      clearTimeout(timer);
      await Promise.race([client.logout().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
      client.close();
    }
  }

  /** Provider ids the cursor has passed and discovery promised to store, received since `since`. */
  async listRecent({ since, limit }: { since: Date; limit: number }): Promise<string[]> {
    const cursor = this.requireCursor();
    await this.checkUidValidity();
    const uids = await this.run(async (client) => (await client.search({ since }, { uid: true })) || []);
    return reconcilableUids(cursor, uids)
      .slice(-limit)
      .map((uid) => `${this.uidValidity}:${uid}`);
  }

  /**
   * A folder deleted and recreated under the open session (a restore, a migration) is not always
   * announced: Dovecot keeps the session on the old one. STATUS shows the new UIDVALIDITY; the
   * connection then ends and the next one re-baselines (imap-cursor-plan.ts).
   */
  private async checkUidValidity(): Promise<void> {
    const status = await this.run((client) => client.status(this.opts.folder, { uidValidity: true }));
    if (!status) throw new MailError("folder_missing", `The folder "${this.opts.folder}" does not exist in this mailbox.`);
    if (status.uidValidity !== undefined && String(status.uidValidity) !== this.uidValidity) {
      throw new MailError("protocol", `The folder "${this.opts.folder}" was recreated on the server (its UIDVALIDITY changed); reconnecting to pick it up again.`);
    }
  }

  async fetchByIds(ids: string[], { maxBytes }: { maxBytes: number }): Promise<FetchedMessage[]> {
    const uids = this.uidsOf(ids);
    if (uids.length === 0) return [];
    const listing = await this.listMeta(uids);
    const out: FetchedMessage[] = [];
    // Same caps as fetchNew, batch by batch, so a large gap never buffers more than one batch.
    let rest = listing;
    let lastUid = 0;
    while (rest.length > 0) {
      const plan = planImapBatch({ listing: rest, lastUid, listedThrough: 0, maxCount: 50, maxBytes, maxMessageBytes: this.maxMessageBytes });
      out.push(...(await this.fetchPlanned(plan.whole, plan.headersOnly)));
      if (this.takeCut() !== null) break;
      rest = plan.rest;
      lastUid = plan.lastUid;
    }
    return out;
  }

  private uidsOf(providerMessageIds: string[]): number[] {
    return providerMessageIds
      .filter((id) => id.startsWith(`${this.uidValidity}:`))
      .map(uidOf)
      .filter((n) => Number.isInteger(n) && n > 0);
  }

  /** After commit only: \Seen, nothing, or MOVE (imapflow falls back to COPY + \Deleted + EXPUNGE). */
  async applyAfterIngest(providerMessageIds: string[]): Promise<void> {
    const action = this.opts.afterIngest ?? "mark_read";
    if (action === "none") return;
    const uids = this.uidsOf(providerMessageIds);
    if (uids.length === 0) return;
    if (action === "move") {
      const target = this.opts.moveToFolder;
      if (!target) throw new MailError("config", "Choose the folder to move stored messages to.");
      const moved = await this.run((client) => client.messageMove(uids, target, { uid: true }));
      if (!moved) throw new MailError("folder_missing", `Stored messages could not be moved: the folder "${target}" does not exist.`);
      return;
    }
    // .SILENT: the server need not echo every message's new flags back.
    await this.run((client) => client.messageFlagsAdd(uids, ["\\Seen"], { uid: true, silent: true }));
  }

  /** Best effort: the messages were committed, the action is idempotent, and a failure loses nothing. */
  private async applyPendingAfterIngest(): Promise<void> {
    const uids = this.pendingAfterIngest;
    this.pendingAfterIngest = [];
    if (uids.length === 0) return;
    await this.applyAfterIngest(uids.map((uid) => `${this.uidValidity}:${uid}`)).catch(() => {});
  }

  /** What each start mode would import from this folder now. */
  async countStartCandidates({ since }: { since?: Date }): Promise<StartCandidateCounts> {
    return this.run(async (client) => {
      const status = await client.status(this.opts.folder, { messages: true, unseen: true });
      if (!status) throw new MailError("folder_missing", `The folder "${this.opts.folder}" does not exist in this mailbox.`);
      const sinceCount = since ? ((await client.search({ since }, { uid: true })) || []).length : null;
      return { unread: status.unseen ?? 0, since: sinceCount, total: status.messages ?? 0 };
    });
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
        if (this.waitWatchdog === timers.watchdog) this.waitWatchdog = null;
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
      timers.timeout = setTimeout(() => finish("timeout"), timeoutMs);
      // The IDLE this wait started, until it ends: the probe breaks it with DONE and awaits its tagged OK.
      let runningIdle: Promise<unknown> | null = null;
      const enterIdle = (): void => {
        // IDLE ends when the next command is sent; its rejection on a dropped socket surfaces as 'close'.
        if (!(this.opts.useIdle && this.client === client && !this.closed)) return;
        const started: Promise<unknown> = client
          .idle()
          .catch(() => {})
          .finally(() => {
            if (runningIdle === started) runningIdle = null;
          });
        runningIdle = started;
      };
      // A silent IDLE (or polling wait) is asked whether the server is still there: under IDLE just
      // DONE (its tagged OK is the answer), else a NOOP. No answer: the path is dead, end it so the
      // watcher reconnects.
      timers.watchdog = startIdleWatchdog({
        silenceMs: this.liveness.idleSilenceMs,
        keepaliveSilenceMs: () => this.idleKeepaliveMs(),
        jitterMs: this.liveness.silenceJitterMs,
        probeTimeoutMs: this.liveness.probeTimeoutMs,
        activity: this.activity,
        probe: async () => {
          // imapflow's NOOP and IDLE swallow their own failure; a connection that closed under them is no answer.
          await askWaitingServer(client as unknown as ProbeTarget, runningIdle);
          if (!client.usable) throw new MailError("network", `The connection to ${this.where} was closed.`);
        },
        onAlive: () => {
          this.lastActivityAt = new Date();
          // The answer may have brought EXISTS: onChange has then finished the wait already.
          enterIdle();
        },
        onDead: (err) => {
          const mailError = err instanceof MailError ? err : describeImapError(err, this.errorContext);
          this.abandon(client, mailError);
          // close() normally ends the wait through 'close'; a client already half-closed may not emit it.
          finish("closed");
        },
        describeTimeout: (ms) => noAnswerError(this.where, ms, "checking a silent connection"),
      });
      this.waitWatchdog = timers.watchdog;
      enterIdle();
    });
  }

  getHealthStatus(): ProviderHealth {
    return { connected: this.isConnected, lastActivityAt: this.lastActivityAt, lastError: this.lastError };
  }
}

/** The literal length of imapflow's LiteralTooLarge error, else null. */
function literalOverflowOf(err: unknown): number | null {
  if (!err || typeof err !== "object" || (err as { code?: unknown }).code !== "LiteralTooLarge") return null;
  const size = (err as { literalSize?: unknown }).literalSize;
  // The size column is an int4; a 19-digit literal marker is "at least that".
  return typeof size === "number" && Number.isFinite(size) ? Math.min(size, MAX_INT4) : MAX_INT4;
}

function newestOf(messages: FetchedMessage[]): Date | undefined {
  return messages.reduce<Date | undefined>((d, m) => (m.receivedAt && (!d || m.receivedAt > d) ? m.receivedAt : d), undefined);
}

function uidOf(providerMessageId: string): number {
  return Number(providerMessageId.slice(providerMessageId.indexOf(":") + 1));
}
