import type { SyncState } from "@/lib/db/schema";
import type { FetchedMessage } from "@/lib/email/provider";
import { fetchIdsSized, rebaselineSince, takeQueueBatch, type IdQueue } from "./api-http";
import { queueProgress, reconcileSince, resumeQueue } from "./first-import";

/** How often a large queue looks for newer mail to take first (one history/delta call). */
const LIVE_CHECK_MS = 2_000;

export type StartMode = "unread" | "since" | "new_only";

/** Ids a cursor found and the position (Gmail history id, Graph delta link) that covers them. */
export type CursorRound = { ids: string[]; position: string };

/** What a protocol provides; everything else about discovery by cursor is the same for Gmail and Graph. */
export type CursorQueueSource<M> = {
  /** Ids added past `position` and the position that covers them; null: the position expired. */
  readSince: (position: string) => Promise<CursorRound | null>;
  /**
   * No usable position: the position FIRST, then the listing the start mode chooses (ids not stored
   * yet, oldest first), so a message arriving in between is in both rather than in neither.
   */
  planBaseline: (mode: StartMode, since: Date | null | undefined) => Promise<CursorRound>;
  /** The ids that are not stored yet (knownIds). */
  unknown: (ids: string[]) => Promise<string[]>;
  getMetadata: (id: string) => Promise<M | null>;
  fetchSized: (meta: M) => Promise<FetchedMessage | null>;
  /** The position expired; the queue re-baselines from `since` (the provider logs it its way). */
  onExpired: (since: Date) => void;
};

export type CursorBatch = {
  messages: FetchedMessage[];
  /** What the batch commits besides the protocol's own position key (the provider adds that). */
  cursor: Partial<SyncState>;
  more: boolean;
  backlog: number;
  /** The position that covers the queue; committed with the batch. */
  position: string;
};

/**
 * Discovery by cursor for the two HTTP APIs (issue 13): never by an unread flag. A queue is planned
 * from the stored position (or the start mode's baseline), worked off in bounded batches, and each
 * batch commits the position that covers the queue plus the ids it still owes (first-import.ts), so
 * a crash resumes both. While a large queue is worked off, newer mail goes to its front.
 */
export class CursorQueue<M extends { size: number }> {
  private positionValue: string | undefined;
  private lastReceivedAt: string | undefined;
  private baselineAt: string | undefined;
  /** Ids the committed queue still owed; taken into the next queue planned. */
  private owed: string[];
  private queue: (IdQueue<M> & { position: string }) | null = null;
  /** When takeLiveFirst last looked for mail newer than the queue. */
  private liveCheckedAt = 0;

  constructor(
    private readonly opts: {
      source: CursorQueueSource<M>;
      syncState?: { position?: string | undefined; lastReceivedAt?: string | undefined; baselineAt?: string | undefined; baselineIds?: string[] | undefined };
      startMode?: StartMode | undefined;
      startSince?: Date | null | undefined;
      liveCheckMs?: number | undefined;
      maxMessageBytes: number;
      concurrency: number;
    },
  ) {
    this.positionValue = opts.syncState?.position;
    this.lastReceivedAt = opts.syncState?.lastReceivedAt;
    this.baselineAt = opts.syncState?.baselineAt;
    this.owed = opts.syncState?.baselineIds ?? [];
  }

  /** The position change polling reads from: the last one handed out in a batch (or advanced by a poll). */
  get position(): string | undefined {
    return this.positionValue;
  }

  /** True while a planned queue is being worked off (change polling then just says "fetch"). */
  get working(): boolean {
    return this.queue !== null;
  }

  /**
   * A poll with nothing new may move the position in memory (committed with the next rows), but only
   * if nothing moved it since the poll started from `from`.
   */
  advanceIdle({ from, to }: { from: string; to: string }): void {
    if (this.positionValue === from) this.positionValue = to;
  }

  /** A new connection plans afresh (what the last one planned may be stale). */
  reset(): void {
    this.queue = null;
  }

  /** Where the reconcile window may start: never before the baseline. */
  reconcileFrom(since: Date): Date {
    return reconcileSince({ since, baselineAt: this.baselineAt });
  }

  async takeBatch(opts: { maxCount: number; maxBytes: number }): Promise<CursorBatch> {
    if (!this.queue) {
      this.queue = await this.planQueue();
      this.liveCheckedAt = Date.now();
    } else await this.takeLiveFirst(this.queue);
    const queue = this.queue;
    const { source } = this.opts;
    const batch = await takeQueueBatch(
      queue,
      { ...opts, maxMessageBytes: this.opts.maxMessageBytes, concurrency: this.opts.concurrency, lastReceivedAt: this.lastReceivedAt },
      { getMetadata: source.getMetadata, fetchSized: source.fetchSized },
    );
    this.lastReceivedAt = batch.lastReceivedAt;
    this.positionValue = queue.position;
    Object.assign(batch.cursor, queueProgress({ remaining: queue.ids, baselineAt: this.baselineAt }));
    if (!batch.more) this.queue = null;
    return { messages: batch.messages, cursor: batch.cursor, more: batch.more, backlog: queue.ids.length, position: queue.position };
  }

  /** Reconcile's fetch of named ids: sized like a batch, gone ids left out (fetchIdsSized). */
  async fetchIds(ids: string[], opts: { maxBytes: number }): Promise<FetchedMessage[]> {
    const { source } = this.opts;
    return fetchIdsSized(
      ids,
      { maxBytes: opts.maxBytes, maxMessageBytes: this.opts.maxMessageBytes, concurrency: this.opts.concurrency },
      { getMetadata: source.getMetadata, fetchSized: source.fetchSized },
    );
  }

  /** The ids the next batches work off, and the position that covers them. */
  private async planQueue(): Promise<IdQueue<M> & { position: string }> {
    const { source } = this.opts;
    if (!this.positionValue) {
      // Taken before the position and the listing: the reconcile looks from here on.
      this.baselineAt ??= new Date().toISOString();
      return source.planBaseline(this.opts.startMode ?? "unread", this.opts.startSince);
    }
    let round = await source.readSince(this.positionValue);
    if (round === null) {
      // The provider no longer keeps the position: re-baseline by date window; knownIds (and the
      // store's content hash) keep the overlap from being stored twice.
      const since = rebaselineSince({ lastReceivedAt: this.lastReceivedAt, now: Date.now() });
      source.onExpired(since);
      round = await source.planBaseline("since", since);
    }
    const ids = await source.unknown(resumeQueue({ found: round.ids, owed: this.owed }));
    this.owed = [];
    return { ids, position: round.position };
  }

  /**
   * Mail added since the queue was planned goes to its front, so it waits one batch, not the whole
   * import. The queue's position moves with it; it is still committed only with the queue's last
   * batch, so a crash re-plans from the committed one (knownIds skip what was stored).
   */
  private async takeLiveFirst(queue: IdQueue<M> & { position: string }): Promise<void> {
    if (queue.ids.length === 0 || Date.now() - this.liveCheckedAt < (this.opts.liveCheckMs ?? LIVE_CHECK_MS)) return;
    this.liveCheckedAt = Date.now();
    const round = await this.opts.source.readSince(queue.position);
    if (round === null) return;
    const queued = new Set(queue.ids);
    const fresh = (await this.opts.source.unknown([...new Set(round.ids)])).filter((id) => !queued.has(id));
    queue.ids.unshift(...fresh);
    queue.position = round.position;
  }
}
