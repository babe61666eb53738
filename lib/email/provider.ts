import type { MailErrorCode } from "@/lib/api/error-codes";
import type { StartCandidateCounts } from "@/lib/api/types";
import type { MailAccess, MailboxAfterIngest, MailboxStartMode, SyncState } from "@/lib/db/schema";

export type { MailErrorCode, StartCandidateCounts };

/**
 * What a push notification asks of the watcher that owns the mailbox: "changed" (new mail may be
 * there), "missed" (Graph lost notifications: catch up by delta), "reauthorize" (Graph wants the
 * subscription renewed now), "resubscribe" (Graph removed the subscription: create a new one).
 */
export type PushEvent = "changed" | "missed" | "reauthorize" | "resubscribe";

/**
 * An OAuth mailbox's access token, injected by the composition root (watcher/runtime.ts builds it
 * from lib/oauth's token manager), so lib/email never imports lib/oauth. `forceRefresh`: the
 * provider rejected the token it was given (401); the source knows which token that was.
 */
export type AccessTokenSource = (opts?: { forceRefresh?: boolean }) => Promise<string>;

/** An access token with its expiry, for sessions that must renew before it (IMAP XOAUTH2). */
export type AccessTokenInfo = { accessToken: string; expiresAt: Date | null };

/** Per mailbox: the token with its expiry; forceRefresh with the token the server rejected. */
export type AccessTokenLookup = (opts?: { forceRefresh?: boolean; rejectedToken?: string }) => Promise<AccessTokenInfo>;

/** One message as the provider holds it: raw RFC 5322 source and the provider's stable id. */
export type FetchedMessage = {
  /** Stable per mailbox: IMAP `uidvalidity:uid`, POP3 UIDL, Gmail message id, Graph message id. */
  providerMessageId: string;
  /** The whole source; for a tooLarge message only its header block. */
  raw: Buffer;
  /** When the provider received it, if known. */
  receivedAt?: Date;
  /** Provider-reported size of the whole message in bytes. */
  size: number;
  /**
   * size > maxMessageBytes: never fetched whole, stored as too_large, left untouched at the
   * provider (no after-ingest action).
   */
  tooLarge?: boolean;
  /**
   * tooLarge only: the server announced `size` (under the cap) but then sent a body of this many
   * bytes, above it (IMAP literal length); the body was refused unread and the row says both.
   */
  observedSize?: number;
};

/** One bounded step of discovery: the messages and the cursor position right after them. */
export type FetchBatch = {
  /** Oldest first. */
  messages: FetchedMessage[];
  /** Position after these messages; committed in the SAME transaction as their rows. */
  cursor: Partial<SyncState>;
  /** More is waiting past the cursor: call again at once. */
  more: boolean;
  /** Estimate of what still waits (the admin's queue), when the provider knows it. */
  backlog?: number;
};


export type WaitResult = "changed" | "timeout" | "closed";

export type ProviderHealth = {
  connected: boolean;
  lastActivityAt: Date | null;
  lastError: string | null;
};

/**
 * Seed §5.1 EmailProviderInterface, shaped for a pull loop: the mailbox loop fetches everything
 * past the durable cursor, stores it together with the new cursor, applies the after-ingest action,
 * then waits for a change (IDLE, push or polling) and repeats. `watch_inbox(callback)` of the seed is
 * `waitForChange` called in that loop, so that a slow store never overlaps the next fetch and a
 * missed notification only delays until the next reconcile.
 *
 * Discovery never depends on \Seen / UNREAD / isRead: people read mail in their own clients.
 */
export interface MailProvider {
  readonly access: MailAccess;
  readonly isConnected: boolean;
  /** Opens the connection and selects the folder; throws MailError on failure. */
  connect(): Promise<void>;
  /** Closes the connection; never throws. */
  disconnect(): Promise<void>;
  /**
   * Everything past the cursor, READ OR UNREAD. With no cursor, the mailbox's start mode decides
   * the baseline (unread = what is unread now; since = received on/after start_since; new_only =
   * nothing that is there now). Bounded: at most maxCount messages and maxBytes of bodies per batch;
   * a message above maxMessageBytes comes back tooLarge (headers only).
   */
  fetchNew(opts: { maxCount: number; maxBytes: number }): Promise<FetchBatch>;
  /** Reconcile: provider ids of messages in the folder received since `since` (at most `limit`). */
  listRecent(opts: { since: Date; limit: number }): Promise<string[]>;
  /** Fetches these ids (a gap found by reconcile), same size rules as fetchNew. */
  fetchByIds(ids: string[], opts: { maxBytes: number }): Promise<FetchedMessage[]>;
  /** After commit only: mark read / nothing / move, per the mailbox's after_ingest. */
  applyAfterIngest(providerMessageIds: string[]): Promise<void>;
  /** How many messages each start mode would import now (for Test / the settings form). */
  countStartCandidates?(opts: { since?: Date }): Promise<StartCandidateCounts>;
  /**
   * Waits until new mail may be present ("changed"), the timeout passes ("timeout"), the
   * connection ends ("closed"), or the signal aborts ("closed").
   */
  waitForChange(opts: { timeoutMs: number; signal: AbortSignal }): Promise<WaitResult>;
  getHealthStatus(): ProviderHealth;
  /**
   * Push path (Gmail Pub/Sub, Graph change notifications): a pending waitForChange returns
   * "changed" at once, and Graph lifecycle events schedule the subscription work they ask for.
   * Providers without push (IMAP IDLE, POP3) leave it out.
   */
  notifyChange?(event: PushEvent): void;
  /** The mailbox is removed or disabled: end the push registration (best effort, never throws). */
  stopPush?(): Promise<void>;
}

/** What every provider is built with besides its connection settings (create-provider.ts, api-providers.ts). */
export type ProviderSyncOptions = {
  /** The mailbox's SyncState, read fresh at connect. */
  cursor: SyncState;
  startMode: MailboxStartMode;
  startSince: Date | null;
  afterIngest: MailboxAfterIngest;
  moveToFolder: string | null;
  /** EMAIL_MAX_MESSAGE_BYTES: above this a message is recorded too_large, never fetched whole. */
  maxMessageBytes: number;
  /** Which of these provider ids are already stored for the mailbox. */
  knownIds: (ids: string[]) => Promise<Set<string>>;
};

/** A provider failure in words an admin can act on; `cause` stays in logs only. */
export class MailError extends Error {
  override name = "MailError";
  constructor(
    readonly code: MailErrorCode,
    message: string,
    /**
     * eventMessage: what the mailbox event should say when the thrower knows more than the status
     * text (e.g. which refresh-token error). The mailbox connection records it: it is the only
     * writer of mailbox status and events.
     * retryNow: the failure was the path (a silent connection given up), so the first reconnect goes
     * at once instead of after a backoff; a second failure in a row backs off as usual.
     */
    readonly options: { cause?: unknown; retryAfterMs?: number; eventMessage?: string; retryNow?: boolean } = {},
  ) {
    super(message);
  }

  /** Auth failures are not retried in a storm: the admin must fix the settings. */
  get isAuthFailure(): boolean {
    return this.code === "auth" || this.code === "needs_reauth";
  }
}

/**
 * The AccessTokenSource the API providers take, from a mailbox's token lookup: it remembers the
 * token it handed out, so a forceRefresh (after a 401) names the rejected one and a token someone
 * else refreshed meanwhile is tried before refreshing again.
 */
export function accessTokenSourceFrom(lookup: AccessTokenLookup): AccessTokenSource {
  let last: string | undefined;
  return async (opts) => {
    const info = await lookup(opts?.forceRefresh ? { forceRefresh: true, ...(last !== undefined ? { rejectedToken: last } : {}) } : {});
    last = info.accessToken;
    return info.accessToken;
  };
}
