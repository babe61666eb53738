import type { Logger } from "pino";
import type { MailAccess, SyncState } from "@/lib/db/schema";
import { DEFAULT_MAX_MESSAGE_BYTES, persistSyncState, withoutKnown, type IngestPolicy } from "@/lib/email/api/api-http";
import { DEFAULT_RETRY_POLICY, type ApiUsage, type RetryPolicy } from "@/lib/email/api/api-call";
import { ApiSession } from "@/lib/email/api/api-session";
import { CursorQueue, type CursorRound, type StartMode } from "@/lib/email/api/cursor-queue";
import { pollIntervalWithPush } from "@/lib/email/push-renewal";
import type { FetchBatch, FetchedMessage, ProviderHealth, WaitResult } from "@/lib/email/provider";

/** What a restart resumes from, read fresh at connect (api-providers.ts resumeState). */
export type ApiResumeState = {
  lastReceivedAt?: string;
  afterIngestPending?: string[];
  /** What the import queue still owed at the last commit, and when the first baseline was taken (first-import.ts). */
  baselineIds?: string[];
  baselineAt?: string;
};

/** The options both API providers take; each adds its protocol's own (root URL, folder, push). */
export type ApiProviderOptions = IngestPolicy & {
  /** How often a large queue looks for newer mail to take first; default 2 s (tests: 0). */
  liveCheckMs?: number;
  /** Current access token; `forceRefresh` after a 401 asks the token manager for a new one. */
  getAccessToken: (opts?: { forceRefresh?: boolean }) => Promise<string>;
  /**
   * Persists push registration state (SyncState.gmailWatch* / graphSubscription*). The cursor is
   * not persisted here: it travels in FetchBatch.cursor and the watcher commits it with the rows it
   * covers.
   */
  onSyncState?: (patch: Partial<SyncState>) => Promise<void>;
  /** How often waitForChange polls the cursor (history.list, delta link). */
  pollIntervalMs?: number;
  log?: Logger;
  retry?: Partial<RetryPolicy>;
  /** Parallel message downloads in fetchNew (both APIs limit concurrent requests per mailbox). */
  fetchConcurrency?: number;
};

/**
 * The half of a Gmail or Graph provider that does not depend on the protocol: the session, the
 * cursor queue and the public methods that only hand work to them (fetchNew, fetchByIds, the
 * after-ingest shell, health). A subclass says how its cursor is read (readSince), where a mailbox
 * without one starts (planBaseline), how a message is sized and fetched, and how the after-ingest
 * action is done; every public method it adds runs its body under `session.guard`.
 */
export abstract class ApiMailProvider<M extends { size: number }> {
  abstract readonly access: MailAccess;
  /** HTTP calls made (every try counts) and the quota units they cost. */
  readonly usage: ApiUsage = { calls: 0, quotaUnits: 0 };
  protected readonly session: ApiSession;
  /** Discovery by cursor (history id, delta link): the queue, its position and what it still owes. */
  protected readonly discovery: CursorQueue<M>;
  protected readonly afterIngest: "mark_read" | "none" | "move";
  protected readonly maxMessageBytes: number;
  protected readonly fetchConcurrency: number;
  protected readonly pollIntervalMs: number;
  protected readonly retryPolicy: RetryPolicy;
  private readonly options: ApiProviderOptions & { push?: { fallbackPollIntervalMs: number } | undefined };
  private readonly logName: string;
  /** The SyncState key the protocol's position is committed under. */
  private readonly positionKey: "gmailHistoryId" | "graphDeltaLink";
  private readonly knownIds: IngestPolicy["knownIds"];
  private readonly afterIngestPending: string[];
  private pendingApplied = false;

  protected constructor(base: {
    /** The message for a failure that is not already a MailError. */
    unexpectedResponse: string;
    /** The SyncState key the protocol's position is committed under. */
    positionKey: "gmailHistoryId" | "graphDeltaLink";
    position: string | undefined;
    /** The provider's options; `push` set = push is configured (its registration may not be in force). */
    policy: ApiProviderOptions & { syncState?: ApiResumeState | undefined; push?: { fallbackPollIntervalMs: number } | undefined };
    fetchConcurrency: number;
    /** How failed state writes are logged ("gmail", "graph"). */
    logName: string;
  }) {
    const { policy } = base;
    this.options = policy;
    this.logName = base.logName;
    this.positionKey = base.positionKey;
    this.pollIntervalMs = policy.pollIntervalMs ?? 10_000;
    this.retryPolicy = { ...DEFAULT_RETRY_POLICY, ...policy.retry };
    this.session = new ApiSession(base.unexpectedResponse);
    this.afterIngest = policy.afterIngest ?? "mark_read";
    this.maxMessageBytes = policy.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.fetchConcurrency = base.fetchConcurrency;
    this.knownIds = policy.knownIds;
    this.afterIngestPending = policy.syncState?.afterIngestPending ?? [];
    // The source's methods are the subclass's; they run only once fetchNew is called, after its constructor.
    this.discovery = new CursorQueue<M>({
      source: {
        readSince: (position) => this.readSince(position),
        planBaseline: (mode, since) => this.planBaseline(mode, since),
        unknown: (ids) => this.unknown(ids),
        getMetadata: (id) => this.getMetadata(id),
        fetchSized: (meta) => this.fetchSized(meta),
        onExpired: (since) => this.onCursorExpired(since),
      },
      syncState: { ...policy.syncState, position: base.position },
      startMode: policy.startMode,
      startSince: policy.startSince,
      liveCheckMs: policy.liveCheckMs,
      maxMessageBytes: this.maxMessageBytes,
      concurrency: this.fetchConcurrency,
    });
  }

  /** Ids added past `position` and the position that covers them; null: the position expired. */
  protected abstract readSince(position: string): Promise<CursorRound | null>;
  /** No usable position: the position FIRST, then the start mode's listing (see CursorQueueSource). */
  protected abstract planBaseline(mode: StartMode, since: Date | null | undefined): Promise<CursorRound>;
  /** Size, receive time (and what a too-large record needs) before anything big is downloaded. null: gone. */
  protected abstract getMetadata(id: string): Promise<M | null>;
  /** The whole message, or only its headers when it is above maxMessageBytes. null: deleted meanwhile. */
  protected abstract fetchSized(meta: M): Promise<FetchedMessage | null>;
  /** The stored position expired; the queue re-baselines from `since`. Logged the protocol's way. */
  protected abstract onCursorExpired(since: Date): void;
  /** When the push registration of ours (users.watch, subscription) expires (epoch ms); undefined: none. */
  protected abstract pushExpiresAt(): number | undefined;
  /** One round of change polling: push upkeep, then true when the cursor has something new. */
  protected abstract pollRound(signal: AbortSignal): Promise<boolean>;
  /** connect's first step: the token and the folder/label setting are checked; throws what is wrong. */
  protected abstract checkAccess(): Promise<void>;
  /** connect's last step, once connected: push registration upkeep. */
  protected abstract afterConnect(): Promise<void>;
  /** The after-ingest action (mark read or move) for ids already committed; never empty, never "none". */
  protected abstract applyAction(providerMessageIds: string[]): Promise<void>;

  get isConnected(): boolean {
    return this.session.connected;
  }

  /** True while a push registration of ours is in force, so the provider tells us of new mail. */
  get pushActive(): boolean {
    const expiresAt = this.pushExpiresAt();
    return this.options.push !== undefined && expiresAt !== undefined && expiresAt > Date.now();
  }

  /** Polls the cursor every pollIntervalMs, slower while push is in force; a notifyChange ends the wait at once. */
  async waitForChange(opts: { timeoutMs: number; signal: AbortSignal }): Promise<WaitResult> {
    return this.session.waitForChange({
      ...opts,
      pollIntervalMs: () => pollIntervalWithPush({ pollIntervalMs: this.pollIntervalMs, push: this.options.push, pushActive: this.pushActive }),
      poll: (signal) => this.pollRound(signal),
    });
  }

  /**
   * Checks access, applies what the last batch before a crash may still owe, and plans discovery
   * afresh. Without a stored cursor the first fetchNew takes the start mode's baseline (the watcher
   * commits its position). Everything before session.opened() fails without leaving a trace in
   * connected/lastError beyond what fail reports.
   */
  async connect(): Promise<void> {
    this.session.reopen();
    await this.session.guard(async () => {
      await this.checkAccess();
      await this.applyPendingAfterIngest();
      this.discovery.reset();
      this.session.opened();
      await this.afterConnect();
    });
  }

  async disconnect(): Promise<void> {
    this.session.close();
  }

  getHealthStatus(): ProviderHealth {
    return this.session.health();
  }

  /**
   * Discovery by cursor, never by an unread flag: every message added past the cursor, read or
   * unread; without a cursor the start mode takes the baseline. The ids found are worked off in
   * batches, and every batch commits the position that covers the queue and the ids it still owes
   * (first-import.ts), so a crash resumes both: the baseline's choice cannot be asked again once
   * people read or move the mail it chose.
   */
  async fetchNew(opts: { maxCount: number; maxBytes: number }): Promise<FetchBatch> {
    return this.session.guard(async () => {
      const batch = await this.discovery.takeBatch(opts);
      const cursor: Partial<SyncState> = { ...batch.cursor, [this.positionKey]: batch.position };
      return { messages: batch.messages, cursor, more: batch.more, backlog: batch.backlog };
    });
  }

  async fetchByIds(ids: string[], opts: { maxBytes: number }): Promise<FetchedMessage[]> {
    return this.session.guard(() => this.discovery.fetchIds(ids, opts));
  }

  /** After commit: the configured action, or nothing for "none". */
  async applyAfterIngest(providerMessageIds: string[]): Promise<void> {
    if (providerMessageIds.length === 0 || this.afterIngest === "none") return;
    await this.session.guard(() => this.applyAction(providerMessageIds));
  }

  /**
   * Best effort, once per provider, before the first batch of a connection: the last batch before
   * a crash was committed but maybe not marked/moved. The action is idempotent (a message already
   * moved is gone: 404 is ignored), and a failure loses nothing.
   */
  protected async applyPendingAfterIngest(): Promise<void> {
    if (this.afterIngestPending.length === 0 || this.pendingApplied) return;
    this.pendingApplied = true;
    await this.applyAfterIngest(this.afterIngestPending).catch(() => undefined);
  }

  /** Push registration state; a failed write is logged, not thrown (persistSyncState). */
  protected async persist(patch: Partial<SyncState>): Promise<void> {
    await persistSyncState({ onSyncState: this.options.onSyncState, patch, log: this.options.log, logName: this.logName });
  }

  /** The ids that are not stored yet (knownIds). */
  protected async unknown(ids: string[]): Promise<string[]> {
    return withoutKnown(ids, this.knownIds);
  }
}
