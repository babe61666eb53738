// Only the Gmail API module of googleapis: its root index loads every Google API (seconds of start-up).
import { gmail, type gmail_v1 } from "googleapis/build/src/apis/gmail/index.js";
import type { Logger } from "pino";
import { z } from "zod";
import type { PushEvent } from "../db/queries/mailboxes";
import type { MailAccess, SyncState } from "../db/schema";
import { abortableSleep, backoffDelay, describeCause, errorMessage, getProp, mapLimit, networkCode, networkFailure, parseRetryAfter } from "./api-http";
import { ChangePoller } from "./change-poller";
import { isGmailWatchDue, parseStoredTime, pollIntervalWithPush, PUSH_RETRY_AFTER_FAILURE_MS, pushFailureLogFields } from "./push-renewal";
import { MailError, type LegacyFetchedMessage as FetchedMessage, type MailErrorCode, type LegacyMailProvider as MailProvider, type ProviderHealth, type WaitResult } from "./provider";

export type GmailProviderOptions = {
  /** Gmail API root; googleapis wants a trailing slash (added when missing). */
  rootUrl?: string;
  /** The watched label id; default INBOX. */
  label?: string;
  /** Current access token; `forceRefresh` after a 401 asks the token manager for a new one. */
  getAccessToken: (opts?: { forceRefresh?: boolean }) => Promise<string>;
  syncState?: { historyId?: string; watchExpiresAt?: string; watchRenewedAt?: string; watchLabel?: string };
  /** Persists the history cursor and the watch's times (SyncState.gmail*). */
  onSyncState?: (patch: Partial<SyncState>) => Promise<void>;
  /** How often waitForChange polls users.history.list. */
  pollIntervalMs?: number;
  /**
   * Push: keep a users.watch on this Pub/Sub topic (renewed daily). While it is active, history
   * polling slows to fallbackPollIntervalMs: it stays only as the safety net for a lost push.
   */
  push?: { topicName: string; fallbackPollIntervalMs: number };
  log?: Logger;
  retry?: Partial<RetryPolicy>;
  /** Parallel messages.get calls in fetchUnread (Gmail limits concurrent requests per user). */
  fetchConcurrency?: number;
};

export type RetryPolicy = {
  /** Tries per API call for throttling, 5xx and network failures (the 401 refresh is extra). */
  maxAttempts: number;
  /** First backoff when the server gives no Retry-After; doubled per try, with jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not slept through: the caller gets rate_limited at once. */
  maxRetryAfterMs: number;
};

export type ApiUsage = { calls: number; quotaUnits: number };

/** Gmail per-method quota units (developers.google.com/workspace/gmail/api/reference/quota). */
export const GMAIL_QUOTA_UNITS = {
  getProfile: 1,
  "labels.get": 1,
  "messages.list": 5,
  "messages.get": 5,
  "messages.batchModify": 50,
  "messages.modify": 5,
  "history.list": 2,
  watch: 100,
  stop: 50,
} as const;
type GmailMethod = keyof typeof GMAIL_QUOTA_UNITS;

const DEFAULT_ROOT_URL = "https://gmail.googleapis.com";
const LIST_PAGE_SIZE = 500;
/** Listing stops here: beyond 5,000 unread the oldest of those are taken, not the global oldest. */
const MAX_LIST_PAGES = 10;
const BATCH_MODIFY_LIMIT = 1000;
const REQUEST_TIMEOUT_MS = 30_000;
const RATE_LIMIT_REASONS = new Set(["rateLimitExceeded", "userRateLimitExceeded"]);

const googleErrorSchema = z.object({
  error: z.object({
    code: z.number().optional(),
    message: z.string().optional(),
    status: z.string().optional(),
    errors: z.array(z.object({ reason: z.string().optional(), domain: z.string().optional(), message: z.string().optional() })).optional(),
  }),
});

const uint64 = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(String);
const profileSchema = z.object({ emailAddress: z.string(), historyId: uint64 });
const labelSchema = z.object({ id: z.string(), messagesUnread: z.number().int().nonnegative().optional() });
const listSchema = z.object({
  messages: z.array(z.object({ id: z.string() })).optional(),
  nextPageToken: z.string().optional(),
  resultSizeEstimate: z.number().optional(),
});
const rawMessageSchema = z.object({ id: z.string(), raw: z.string(), internalDate: uint64.optional() });
const historyRef = z.object({ message: z.object({ id: z.string().optional(), labelIds: z.array(z.string()).nullish() }).optional() });
const historySchema = z.object({
  history: z
    .array(z.object({ messagesAdded: z.array(historyRef).optional(), labelsAdded: z.array(historyRef.extend({ labelIds: z.array(z.string()).nullish() })).optional() }))
    .optional(),
  nextPageToken: z.string().optional(),
  historyId: uint64,
});
const watchSchema = z.object({ historyId: uint64, expiration: uint64 });

/**
 * Gmail API access (seed §5.2 gmail_provider) on googleapis gmail v1. Change detection is the
 * history cursor: waitForChange polls users.history.list from the stored historyId, and a push
 * notification (Pub/Sub, see parseGmailPushNotification) only shortens the wait via notifyChange().
 * Tokens travel per request in the Authorization header, so concurrent calls never race on a shared
 * credentials object and a forced refresh affects only the retried call.
 */
export class GmailProvider implements MailProvider {
  readonly access: MailAccess = "gmail_api";
  /** HTTP calls made (every try counts) and the Gmail quota units they cost. */
  readonly usage: ApiUsage = { calls: 0, quotaUnits: 0 };
  private readonly gmail: gmail_v1.Gmail;
  private readonly label: string;
  private readonly pollIntervalMs: number;
  private readonly retryPolicy: RetryPolicy;
  private readonly fetchConcurrency: number;
  private historyId: string | undefined;
  private connected = false;
  private closeController = new AbortController();
  /** A notifyChange() that no waitForChange has consumed yet: never lost between two waits. */
  private readonly changes = new ChangePoller();
  private lastActivityAt: Date | null = null;
  private lastError: string | null = null;
  private address: string | null = null;
  private watchExpiresAt: number | undefined;
  private watchRenewedAt: number | undefined;
  private watchLabel: string | undefined;
  /** After a failed users.watch, no new try before this time (epoch ms). */
  private watchRetryAt = 0;

  constructor(private readonly opts: GmailProviderOptions) {
    const root = opts.rootUrl ?? process.env.GMAIL_API_BASE_URL ?? DEFAULT_ROOT_URL;
    this.gmail = gmail({
      version: "v1",
      rootUrl: root.endsWith("/") ? root : `${root}/`,
      // Our own retry loop counts calls, honours Retry-After and the close signal; gaxios' would hide them.
      retry: false,
      timeout: REQUEST_TIMEOUT_MS,
    });
    this.label = opts.label ?? "INBOX";
    this.pollIntervalMs = opts.pollIntervalMs ?? 10_000;
    this.retryPolicy = { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 30_000, maxRetryAfterMs: 60_000, ...opts.retry };
    this.fetchConcurrency = Math.max(1, opts.fetchConcurrency ?? 5);
    this.historyId = opts.syncState?.historyId;
    this.watchExpiresAt = parseStoredTime(opts.syncState?.watchExpiresAt);
    this.watchRenewedAt = parseStoredTime(opts.syncState?.watchRenewedAt);
    this.watchLabel = opts.syncState?.watchLabel;
  }

  /** True while a users.watch of ours is in force, so Gmail pushes changes to the topic. */
  get pushActive(): boolean {
    return this.opts.push !== undefined && this.watchExpiresAt !== undefined && this.watchExpiresAt > Date.now();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** The mailbox address reported by users.getProfile (after connect). */
  get emailAddress(): string | null {
    return this.address;
  }

  /** The history cursor waitForChange polls from. */
  get currentHistoryId(): string | undefined {
    return this.historyId;
  }

  async connect(): Promise<void> {
    this.closeController.abort();
    this.closeController = new AbortController();
    try {
      const profile = profileSchema.parse(await this.call("getProfile", (o) => this.gmail.users.getProfile({ userId: "me" }, o)));
      this.address = profile.emailAddress;
      // Verifies the label too: a typo in the folder setting should fail here, not silently sync nothing.
      const label = await this.callOrNull("labels.get", (o) => this.gmail.users.labels.get({ userId: "me", id: this.label }, o));
      if (label === null) throw new MailError("folder_missing", `The Gmail label "${this.label}" does not exist.`);
      if (!this.historyId) await this.saveHistoryId(profile.historyId);
      this.connected = true;
      this.lastError = null;
      await this.maintainWatch();
    } catch (err) {
      throw this.fail(err);
    }
  }

  async disconnect(): Promise<void> {
    this.connected = false;
    this.closeController.abort();
    this.changes.wakeAll();
  }

  async fetchUnread(opts: { maxCount: number }): Promise<FetchedMessage[]> {
    if (opts.maxCount <= 0) return [];
    try {
      const ids: string[] = [];
      let pageToken: string | undefined;
      for (let page = 0; page < MAX_LIST_PAGES; page++) {
        const res = listSchema.parse(
          await this.call("messages.list", (o) =>
            this.gmail.users.messages.list({ userId: "me", labelIds: [this.label, "UNREAD"], maxResults: LIST_PAGE_SIZE, pageToken }, o),
          ),
        );
        for (const m of res.messages ?? []) ids.push(m.id);
        pageToken = res.nextPageToken;
        if (!pageToken) break;
      }
      // Gmail lists newest first; the oldest unread go first so a backlog is worked off in order.
      const wanted = ids.reverse().slice(0, opts.maxCount);
      const fetched = await mapLimit(wanted, this.fetchConcurrency, async (id) => {
        const data = await this.callOrNull("messages.get", (o) => this.gmail.users.messages.get({ userId: "me", id, format: "raw" }, o));
        // 404: deleted between list and get; nothing to ingest.
        if (data === null) return null;
        const msg = rawMessageSchema.parse(data);
        const fetchedMessage: FetchedMessage = { providerMessageId: msg.id, raw: Buffer.from(msg.raw, "base64url") };
        if (msg.internalDate) fetchedMessage.receivedAt = new Date(Number(msg.internalDate));
        return fetchedMessage;
      });
      const messages = fetched.filter((m): m is FetchedMessage => m !== null);
      messages.sort((a, b) => (a.receivedAt?.getTime() ?? 0) - (b.receivedAt?.getTime() ?? 0));
      return messages;
    } catch (err) {
      throw this.fail(err);
    }
  }

  async countUnread(): Promise<number> {
    try {
      const data = await this.callOrNull("labels.get", (o) => this.gmail.users.labels.get({ userId: "me", id: this.label }, o));
      if (data === null) throw new MailError("folder_missing", `The Gmail label "${this.label}" does not exist.`);
      return labelSchema.parse(data).messagesUnread ?? 0;
    } catch (err) {
      throw this.fail(err);
    }
  }

  /**
   * Removes UNREAD. batchModify costs 50 units whatever the count and modify 5 per message, so
   * fewer than 10 messages (the usual live case) go one by one: a single new message costs 5, not 50.
   */
  async markAsRead(providerMessageIds: string[]): Promise<void> {
    try {
      if (providerMessageIds.length * GMAIL_QUOTA_UNITS["messages.modify"] < GMAIL_QUOTA_UNITS["messages.batchModify"]) {
        await mapLimit(providerMessageIds, this.fetchConcurrency, async (id) => {
          // 404: the message is gone; there is nothing left to mark.
          await this.callOrNull("messages.modify", (o) =>
            this.gmail.users.messages.modify({ userId: "me", id, requestBody: { removeLabelIds: ["UNREAD"] } }, o),
          );
        });
        return;
      }
      for (let i = 0; i < providerMessageIds.length; i += BATCH_MODIFY_LIMIT) {
        const ids = providerMessageIds.slice(i, i + BATCH_MODIFY_LIMIT);
        await this.call("messages.batchModify", (o) =>
          this.gmail.users.messages.batchModify({ userId: "me", requestBody: { ids, removeLabelIds: ["UNREAD"] } }, o),
        );
      }
    } catch (err) {
      throw this.fail(err);
    }
  }

  async waitForChange(opts: { timeoutMs: number; signal: AbortSignal }): Promise<WaitResult> {
    const signal = AbortSignal.any([opts.signal, this.closeController.signal]);
    try {
      return await this.changes.wait({
        timeoutMs: opts.timeoutMs,
        pollIntervalMs: () => pollIntervalWithPush({ pollIntervalMs: this.pollIntervalMs, push: this.opts.push, pushActive: this.pushActive }),
        signal,
        isConnected: () => this.connected,
        poll: async (s) => {
          await this.maintainWatch(s);
          return this.pollHistory(s);
        },
      });
    } catch (err) {
      if (signal.aborted) return "closed";
      throw this.fail(err);
    }
  }

  /**
   * Push path: a Pub/Sub notification arrived for this mailbox. A pending waitForChange returns
   * "changed" at once; with none pending, the next one does.
   */
  notifyChange(_event: PushEvent = "changed"): void {
    this.changes.notifyChange();
  }

  /** users.watch on the watched label; renew before `expiration` (Gmail asks for at least daily). */
  async startWatch(opts: { topicName: string }): Promise<{ historyId: string; expiration: Date }> {
    try {
      const data = await this.requestWatch(opts.topicName);
      return { historyId: data.historyId, expiration: new Date(Number(data.expiration)) };
    } catch (err) {
      throw this.fail(err);
    }
  }

  async stopWatch(): Promise<void> {
    try {
      await this.requestStop();
    } catch (err) {
      throw this.fail(err);
    }
  }

  private async requestWatch(topicName: string, signal?: AbortSignal): Promise<z.infer<typeof watchSchema>> {
    const requestBody = { topicName, labelIds: [this.label], labelFilterBehavior: "include" };
    return watchSchema.parse(await this.call("watch", (o) => this.gmail.users.watch({ userId: "me", requestBody }, o), signal));
  }

  private async requestStop(): Promise<void> {
    await this.call("stop", (o) => this.gmail.users.stop({ userId: "me" }, o));
  }

  getHealthStatus(): ProviderHealth {
    return { connected: this.connected, lastActivityAt: this.lastActivityAt, lastError: this.lastError };
  }

  /**
   * Keeps the users.watch alive when push is configured (see push-renewal.ts for when). A watch
   * that cannot be set up (topic missing, Gmail not allowed to publish to it, quota) only costs
   * push: polling goes on at the normal interval and the next try is PUSH_RETRY_AFTER_FAILURE_MS
   * later. A rejected token is the mailbox's problem and ends the connection like any call.
   */
  private async maintainWatch(signal?: AbortSignal): Promise<void> {
    const push = this.opts.push;
    const now = Date.now();
    if (!push || now < this.watchRetryAt) return;
    const sameLabel = this.watchLabel === undefined || this.watchLabel === this.label;
    if (sameLabel && !isGmailWatchDue({ now, renewedAt: this.watchRenewedAt, expiresAt: this.watchExpiresAt })) return;
    let expiration: number;
    try {
      expiration = Number((await this.requestWatch(push.topicName, signal)).expiration);
    } catch (err) {
      const fields = pushFailureLogFields(err, signal);
      if (!fields) throw err;
      this.watchRetryAt = now + PUSH_RETRY_AFTER_FAILURE_MS;
      this.opts.log?.warn(fields, "gmail users.watch failed; polling history until the next try");
      return;
    }
    this.watchExpiresAt = expiration;
    this.watchRenewedAt = now;
    this.watchLabel = this.label;
    this.opts.log?.info({ event: "push_renewed", expires_at: new Date(expiration).toISOString() }, "gmail watch renewed");
    await this.persist({
      gmailWatchExpiresAt: new Date(expiration).toISOString(),
      gmailWatchRenewedAt: new Date(now).toISOString(),
      gmailWatchLabel: this.label,
    });
  }

  /**
   * The mailbox is removed or disabled: stop Gmail publishing for it (users.stop), so the topic is
   * not fed for up to 7 days for nobody. Best effort: the watch expires on its own anyway.
   */
  async stopPush(): Promise<void> {
    if (!this.pushActive) return;
    try {
      await this.requestStop();
      this.watchExpiresAt = undefined;
      this.watchRenewedAt = undefined;
      await this.persist({ gmailWatchExpiresAt: "", gmailWatchRenewedAt: "" });
    } catch (err) {
      this.opts.log?.info({ event: "push_stop_failed", err: describeCause(err) }, "could not stop the gmail watch; it expires on its own");
    }
  }

  /** true when a message was added to the label since the cursor; advances the cursor either way. */
  private async pollHistory(signal: AbortSignal): Promise<boolean> {
    const start = this.historyId;
    if (!start) {
      await this.resync(signal);
      return true;
    }
    let changed = false;
    let pageToken: string | undefined;
    let latest: string;
    do {
      const data = await this.callOrNull(
        "history.list",
        (o) =>
          this.gmail.users.history.list(
            { userId: "me", startHistoryId: start, historyTypes: ["messageAdded", "labelAdded"], labelId: this.label, maxResults: 500, pageToken },
            o,
          ),
        signal,
      );
      if (data === null) {
        // startHistoryId is older than Gmail keeps: take a fresh cursor and let the caller do a full
        // sync of the unread mail (fetchUnread), which is what Gmail's docs prescribe.
        this.opts.log?.info({ label: this.label }, "gmail history cursor expired; resyncing");
        await this.resync(signal);
        return true;
      }
      const res = historySchema.parse(data);
      latest = res.historyId;
      for (const record of res.history ?? []) {
        for (const entry of record.messagesAdded ?? []) if (isUnreadRef(entry.message?.labelIds)) changed = true;
        // A message moved into the watched label later (filter, user) arrives as labelAdded.
        for (const entry of record.labelsAdded ?? []) {
          if (entry.labelIds?.includes(this.label) && isUnreadRef(entry.message?.labelIds)) changed = true;
        }
      }
      pageToken = res.nextPageToken;
    } while (pageToken);
    if (changed) {
      await this.saveHistoryId(latest);
    } else {
      // Advancing in memory only: a stale persisted cursor costs one redundant fetch after a
      // restart, while persisting every poll would be a database write per mailbox per interval.
      this.historyId = latest;
    }
    return changed;
  }

  private async resync(signal: AbortSignal): Promise<void> {
    const profile = profileSchema.parse(await this.call("getProfile", (o) => this.gmail.users.getProfile({ userId: "me" }, o), signal));
    await this.saveHistoryId(profile.historyId);
  }

  private async saveHistoryId(historyId: string): Promise<void> {
    this.historyId = historyId;
    await this.persist({ gmailHistoryId: historyId });
  }

  private async persist(patch: Partial<SyncState>): Promise<void> {
    if (!this.opts.onSyncState) return;
    try {
      await this.opts.onSyncState(patch);
    } catch (err) {
      // Memory stays right; a lost write only means a redundant resync or watch call after a restart.
      this.opts.log?.warn({ err: describeCause(err), fields: Object.keys(patch) }, "could not persist gmail sync state");
    }
  }

  private async call(
    method: GmailMethod,
    fn: (o: { headers: Record<string, string>; signal: AbortSignal }) => Promise<{ data: unknown }>,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const result = await this.execute(method, fn, signal);
    if (result.notFound) throw new MailError("protocol", `Gmail answered 404 to ${method}.`);
    return result.data;
  }

  private async callOrNull(
    method: GmailMethod,
    fn: (o: { headers: Record<string, string>; signal: AbortSignal }) => Promise<{ data: unknown }>,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const result = await this.execute(method, fn, signal);
    return result.notFound ? null : result.data;
  }

  /**
   * One API call with the error policy: 401 → one forced token refresh and a retry, then
   * needs_reauth; throttling (429, 403 rate reasons), 5xx and network failures → up to
   * maxAttempts tries, sleeping for Retry-After or an exponential backoff with jitter.
   */
  private async execute(
    method: GmailMethod,
    fn: (o: { headers: Record<string, string>; signal: AbortSignal }) => Promise<{ data: unknown }>,
    outerSignal?: AbortSignal,
  ): Promise<{ notFound: false; data: unknown } | { notFound: true }> {
    const signal = outerSignal ? AbortSignal.any([outerSignal, this.closeController.signal]) : this.closeController.signal;
    let refreshed = false;
    let attempt = 0;
    for (;;) {
      if (signal.aborted) throw new MailError("network", "The Gmail connection was closed.");
      const token = await this.accessToken(refreshed);
      attempt++;
      this.usage.calls++;
      this.usage.quotaUnits += GMAIL_QUOTA_UNITS[method];
      let failure: ApiFailure;
      try {
        const res = await fn({ headers: { Authorization: `Bearer ${token}` }, signal });
        this.lastActivityAt = new Date();
        return { notFound: false, data: res.data };
      } catch (err) {
        if (signal.aborted) throw new MailError("network", "The Gmail connection was closed.", { cause: describeCause(err) });
        failure = classifyGoogleError(err);
      }
      if (failure.kind === "not_found") {
        this.lastActivityAt = new Date();
        return { notFound: true };
      }
      if (failure.kind === "unauthorized") {
        if (!refreshed) {
          refreshed = true;
          attempt--;
          this.opts.log?.info({ method }, "gmail answered 401; refreshing the access token once");
          continue;
        }
        throw new MailError("needs_reauth", "Google rejected the access token even after a refresh; reconnect the mailbox.", {
          cause: failure.cause,
        });
      }
      if (failure.kind === "fatal") throw failure.error;
      const retryAfterMs = failure.retryAfterMs;
      const tooLong = retryAfterMs !== undefined && retryAfterMs > this.retryPolicy.maxRetryAfterMs;
      if (attempt >= this.retryPolicy.maxAttempts || tooLong) {
        const options: { cause?: unknown; retryAfterMs?: number } = { cause: failure.cause };
        if (retryAfterMs !== undefined) options.retryAfterMs = retryAfterMs;
        throw new MailError(failure.code, failure.message, options);
      }
      const delay = retryAfterMs ?? backoffDelay(attempt, this.retryPolicy);
      this.opts.log?.warn({ method, attempt, delayMs: delay, reason: failure.message }, "gmail call failed; retrying");
      if (!(await abortableSleep(delay, signal))) throw new MailError("network", "The Gmail connection was closed.");
    }
  }

  private async accessToken(forceRefresh: boolean): Promise<string> {
    try {
      return await this.opts.getAccessToken(forceRefresh ? { forceRefresh: true } : undefined);
    } catch (err) {
      if (err instanceof MailError) throw err;
      // Permanent refresh failures (invalid_grant) are the token manager's to report as needs_reauth.
      throw new MailError("network", "Could not obtain a Google access token.", { cause: describeCause(err) });
    }
  }

  private fail(err: unknown): MailError {
    const error =
      err instanceof MailError ? err : new MailError("protocol", "Unexpected response from the Gmail API.", { cause: describeCause(err) });
    this.lastError = error.message;
    if (error.isAuthFailure) this.connected = false;
    return error;
  }
}

function isUnreadRef(labelIds: string[] | null | undefined): boolean {
  // Without labels in the record we cannot tell; a redundant fetch is cheaper than a missed message.
  return !labelIds || labelIds.includes("UNREAD");
}

type ApiFailure =
  | { kind: "not_found" }
  | { kind: "unauthorized"; cause: unknown }
  | { kind: "fatal"; error: MailError }
  | { kind: "retry"; code: MailErrorCode; message: string; retryAfterMs?: number; cause: unknown };

/** Maps a gaxios error to the policy above. The cause kept is a summary: gaxios errors carry request headers. */
function classifyGoogleError(err: unknown): ApiFailure {
  const status = numberProp(err, "status") ?? numberProp(getProp(err, "response"), "status");
  if (status === undefined) {
    const code = networkCode(err);
    return { kind: "retry", ...networkFailure(code, "Gmail"), cause: { code, message: errorMessage(err) } };
  }
  const response = getProp(err, "response");
  const body = parseGoogleErrorBody(getProp(response, "data"));
  const reasons = (body?.errors ?? []).map((e) => e.reason ?? "");
  const apiMessage = body?.message ?? errorMessage(err);
  const cause = { status, reasons, apiStatus: body?.status, message: apiMessage };
  const retryAfterMs = parseRetryAfter(headerValue(response, "retry-after")) ?? parseRetryAfterFromMessage(apiMessage);
  const withRetryAfter = (code: MailErrorCode, message: string): ApiFailure =>
    retryAfterMs === undefined ? { kind: "retry", code, message, cause } : { kind: "retry", code, message, retryAfterMs, cause };

  if (status === 401) return { kind: "unauthorized", cause };
  if (status === 404) return { kind: "not_found" };
  if (status === 429 || (status === 403 && reasons.some((r) => RATE_LIMIT_REASONS.has(r)))) {
    return withRetryAfter("rate_limited", "Gmail is rate limiting this mailbox; it will be retried.");
  }
  if (status === 503) return withRetryAfter("rate_limited", "Gmail is temporarily unavailable; it will be retried.");
  if (status >= 500) return withRetryAfter("network", `Gmail answered with a server error (HTTP ${status}).`);
  if (status === 403) {
    if (reasons.includes("insufficientPermissions") || body?.status === "PERMISSION_DENIED" && /scope/i.test(apiMessage)) {
      return { kind: "fatal", error: new MailError("needs_reauth", "The Google grant lacks the Gmail permission; reconnect the mailbox.", { cause }) };
    }
    if (reasons.includes("accessNotConfigured") || /has not been used|is disabled/i.test(apiMessage)) {
      return { kind: "fatal", error: new MailError("config", "The Gmail API is not enabled for this Google Cloud project.", { cause }) };
    }
    return { kind: "fatal", error: new MailError("auth", "Google refused access to this mailbox.", { cause }) };
  }
  if (status === 400 && reasons.includes("failedPrecondition")) {
    return { kind: "fatal", error: new MailError("config", "Gmail is not enabled for this Google account.", { cause }) };
  }
  return { kind: "fatal", error: new MailError("protocol", `Gmail rejected the request (HTTP ${status}).`, { cause }) };
}

function parseGoogleErrorBody(data: unknown): z.infer<typeof googleErrorSchema>["error"] | null {
  let value = data;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return null;
    }
  }
  const parsed = googleErrorSchema.safeParse(value);
  return parsed.success ? parsed.data.error : null;
}

/** Gmail sometimes names the time only in the message: "User-rate limit exceeded.  Retry after 2024-05-01T10:00:00.000Z". */
function parseRetryAfterFromMessage(message: string): number | undefined {
  const match = /retry after (\d{4}-\d{2}-\d{2}T[\d:.]+Z)/i.exec(message);
  if (!match?.[1]) return undefined;
  const at = Date.parse(match[1]);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3), in milliseconds. */

/** The first string `code` (or timeout name) along the error's cause chain. */

function numberProp(value: unknown, key: string): number | undefined {
  const v = getProp(value, key);
  return typeof v === "number" ? v : undefined;
}

function headerValue(response: unknown, name: string): string | null {
  const headers = getProp(response, "headers");
  // Duck-typed: gaxios may hand back a Headers of another fetch implementation than the global one.
  const get = getProp(headers, "get");
  if (typeof get === "function") {
    const v: unknown = get.call(headers, name);
    return typeof v === "string" ? v : null;
  }
  const v = getProp(headers, name);
  return typeof v === "string" ? v : null;
}

/** What may go into a MailError cause or a log line: never headers, configs or tokens. */
