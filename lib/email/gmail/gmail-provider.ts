// Only the Gmail API module of googleapis: its root index loads every Google API (seconds of start-up).
import { gmail, type gmail_v1 } from "googleapis/build/src/apis/gmail/index.js";
import { z } from "zod";
import type { PushEvent } from "@/lib/email/provider";
import type { MailAccess } from "@/lib/db/schema";
import {
  buildHeaderBlock,
  describeCause,
  errorMessage,
  getProp,
  networkCode,
  networkFailure,
  parseJsonWith,
  parseRetryAfter,
} from "@/lib/email/api/api-http";
import { ApiMailProvider, type ApiProviderOptions, type ApiResumeState } from "@/lib/email/api/api-mail-provider";
import type { CursorRound, StartMode } from "@/lib/email/api/cursor-queue";
import { runApiCall, type ApiFailure, type ApiUsage, type RetryPolicy } from "@/lib/email/api/api-call";
import { mapLimit } from "@/lib/util/map-limit";
import { isGmailWatchDue, parseStoredTime, PUSH_RETRY_AFTER_FAILURE_MS, pushFailureLogFields } from "@/lib/email/push-renewal";
import { MailError, type FetchedMessage, type MailErrorCode, type MailProvider } from "@/lib/email/provider";

export type GmailProviderOptions = ApiProviderOptions & {
  /** Gmail API root; googleapis wants a trailing slash (added when missing). */
  rootUrl?: string;
  /** The watched label id; default INBOX. */
  label?: string;
  /** The mailbox's cursor, read fresh at connect; no historyId = first connect / re-baseline. */
  syncState?: ApiResumeState & { historyId?: string; watchExpiresAt?: string; watchRenewedAt?: string; watchLabel?: string };
  /**
   * Push: keep a users.watch on this Pub/Sub topic (renewed daily). While it is active, history
   * polling slows to fallbackPollIntervalMs: it stays only as the safety net for a lost push.
   */
  push?: { topicName: string; fallbackPollIntervalMs: number };
};

export type { ApiUsage, RetryPolicy };

const GMAIL_SERVICE = { vendor: "Google", api: "Gmail", logName: "gmail" };

/** Gmail per-method quota units (developers.google.com/workspace/gmail/api/reference/quota). */
export const GMAIL_QUOTA_UNITS = {
  getProfile: 1,
  "labels.get": 1,
  "labels.list": 1,
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
const labelSchema = z.object({
  id: z.string(),
  name: z.string().optional(),
  messagesUnread: z.number().int().nonnegative().optional(),
  messagesTotal: z.number().int().nonnegative().optional(),
});
const labelListSchema = z.object({ labels: z.array(labelSchema).optional() });
const metadataSchema = z.object({
  id: z.string(),
  sizeEstimate: z.number().int().nonnegative().optional(),
  internalDate: uint64.optional(),
  payload: z.object({ headers: z.array(z.object({ name: z.string(), value: z.string() })).optional() }).optional(),
});
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

type GmailMeta = { id: string; size: number; receivedAt?: Date; headers: { name: string; value: string }[] };

/** Message ids added to the label in one history page, in history order (oldest first). */
function addedIds(res: z.infer<typeof historySchema>, label: string): string[] {
  const ids: string[] = [];
  for (const record of res.history ?? []) {
    for (const entry of record.messagesAdded ?? []) {
      const labels = entry.message?.labelIds;
      if (entry.message?.id && (!labels || labels.includes(label))) ids.push(entry.message.id);
    }
    // A message put into the watched label later (a filter, a user) arrives as labelAdded.
    for (const entry of record.labelsAdded ?? []) if (entry.message?.id && entry.labelIds?.includes(label)) ids.push(entry.message.id);
  }
  return ids;
}

/** Gmail's `after:` takes epoch seconds; one second earlier so a message at exactly `since` is in. */
function afterQuery(since: Date): string {
  return `after:${Math.max(0, Math.floor(since.getTime() / 1000) - 1)}`;
}

/**
 * Gmail API access (seed §5.2 gmail_provider) on googleapis gmail v1. Change detection is the
 * history cursor: waitForChange polls users.history.list from the stored historyId, and a push
 * notification (Pub/Sub, see parseGmailPushNotification) only shortens the wait via notifyChange().
 * Tokens travel per request in the Authorization header, so concurrent calls never race on a shared
 * credentials object and a forced refresh affects only the retried call.
 */
export class GmailProvider extends ApiMailProvider<GmailMeta> implements MailProvider {
  readonly access: MailAccess = "gmail_api";
  private readonly gmail: gmail_v1.Gmail;
  private readonly label: string;
  private resolvedMoveLabel: string | undefined;
  private address: string | null = null;
  private watchExpiresAt: number | undefined;
  private watchRenewedAt: number | undefined;
  private watchLabel: string | undefined;
  /** After a failed users.watch, no new try before this time (epoch ms). */
  private watchRetryAt = 0;

  constructor(private readonly opts: GmailProviderOptions) {
    super({
      unexpectedResponse: "Unexpected response from the Gmail API.",
      positionKey: "gmailHistoryId",
      position: opts.syncState?.historyId,
      policy: opts,
      logName: GMAIL_SERVICE.logName,
      // Gmail limits concurrent requests per user.
      fetchConcurrency: Math.max(1, opts.fetchConcurrency ?? 5),
    });
    const root = opts.rootUrl ?? DEFAULT_ROOT_URL;
    this.gmail = gmail({
      version: "v1",
      rootUrl: root.endsWith("/") ? root : `${root}/`,
      // Our own retry loop counts calls, honours Retry-After and the close signal; gaxios' would hide them.
      retry: false,
      timeout: REQUEST_TIMEOUT_MS,
    });
    this.label = opts.label ?? "INBOX";
    this.watchExpiresAt = parseStoredTime(opts.syncState?.watchExpiresAt);
    this.watchRenewedAt = parseStoredTime(opts.syncState?.watchRenewedAt);
    this.watchLabel = opts.syncState?.watchLabel;
  }

  protected pushExpiresAt(): number | undefined {
    return this.watchExpiresAt;
  }

  /** The mailbox address reported by users.getProfile (after connect). */
  get emailAddress(): string | null {
    return this.address;
  }

  /** The history cursor waitForChange polls from (the last one handed out in a FetchBatch). */
  get currentHistoryId(): string | undefined {
    return this.discovery.position;
  }

  /** The token and the label setting: a typo in the folder setting should fail here, not silently sync nothing. */
  protected async checkAccess(): Promise<void> {
    const profile = profileSchema.parse(await this.call("getProfile", (o) => this.gmail.users.getProfile({ userId: "me" }, o)));
    this.address = profile.emailAddress;
    const label = await this.callOrNull("labels.get", (o) => this.gmail.users.labels.get({ userId: "me", id: this.label }, o));
    if (label === null) throw new MailError("folder_missing", `The Gmail label "${this.label}" does not exist.`);
  }

  protected async afterConnect(): Promise<void> {
    await this.maintainWatch();
  }

  /** Reconcile: ids in the watched label received since `since`, newest first as Gmail lists them. */
  async listRecent(opts: { since: Date; limit: number }): Promise<string[]> {
    return this.session.guard(() =>
      this.listIds({ labelIds: [this.label], q: afterQuery(this.discovery.reconcileFrom(opts.since)) }, opts.limit),
    );
  }

  /**
   * After commit: remove UNREAD (mark_read) or add the move label and remove the watched one
   * (move). batchModify costs 50 units whatever the count and modify 5 per message, so fewer than
   * 10 messages (the usual live case) go one by one.
   */
  protected async applyAction(providerMessageIds: string[]): Promise<void> {
    const change =
      this.afterIngest === "move" ? { addLabelIds: [await this.moveLabelId()], removeLabelIds: [this.label] } : { removeLabelIds: ["UNREAD"] };
    if (providerMessageIds.length * GMAIL_QUOTA_UNITS["messages.modify"] < GMAIL_QUOTA_UNITS["messages.batchModify"]) {
      await mapLimit(providerMessageIds, this.fetchConcurrency, async (id) => {
        // 404: the message is gone; there is nothing left to change.
        await this.callOrNull("messages.modify", (o) => this.gmail.users.messages.modify({ userId: "me", id, requestBody: change }, o));
      });
      return;
    }
    for (let i = 0; i < providerMessageIds.length; i += BATCH_MODIFY_LIMIT) {
      const ids = providerMessageIds.slice(i, i + BATCH_MODIFY_LIMIT);
      await this.call("messages.batchModify", (o) => this.gmail.users.messages.batchModify({ userId: "me", requestBody: { ids, ...change } }, o));
    }
  }

  /** What each start mode would import now: unread and total of the label, and since a date. */
  async countStartCandidates(opts: { since?: Date }): Promise<{ unread: number; since: number | null; total: number }> {
    return this.session.guard(async () => {
      const data = await this.callOrNull("labels.get", (o) => this.gmail.users.labels.get({ userId: "me", id: this.label }, o));
      if (data === null) throw new MailError("folder_missing", `The Gmail label "${this.label}" does not exist.`);
      const label = labelSchema.parse(data);
      const since = opts.since ? (await this.listIds({ labelIds: [this.label], q: afterQuery(opts.since) }, LIST_PAGE_SIZE * MAX_LIST_PAGES)).length : null;
      return { unread: label.messagesUnread ?? 0, since, total: label.messagesTotal ?? 0 };
    });
  }

  /** Ids added to the watched label after `startHistoryId`, and the history id that covers them; null: expired. */
  protected async readSince(startHistoryId: string): Promise<CursorRound | null> {
    const ids: string[] = [];
    let pageToken: string | undefined;
    let latest: string;
    do {
      const data = await this.callOrNull("history.list", (o) =>
        this.gmail.users.history.list(
          { userId: "me", startHistoryId, historyTypes: ["messageAdded", "labelAdded"], labelId: this.label, maxResults: 500, pageToken },
          o,
        ),
      );
      if (data === null) return null;
      const res = historySchema.parse(data);
      latest = res.historyId;
      for (const id of addedIds(res, this.label)) ids.push(id);
      pageToken = res.nextPageToken;
    } while (pageToken);
    return { ids: [...new Set(ids)], position: latest };
  }

  /**
   * No cursor: the history id is taken FIRST, then the listing, so a message arriving in between is
   * in both (knownIds drop the repeat) rather than in neither.
   */
  protected async planBaseline(mode: StartMode, since: Date | null | undefined): Promise<CursorRound> {
    const profile = profileSchema.parse(await this.call("getProfile", (o) => this.gmail.users.getProfile({ userId: "me" }, o)));
    if (mode === "new_only") return { ids: [], position: profile.historyId };
    const listed =
      mode === "since"
        ? await this.listIds({ labelIds: [this.label], ...(since ? { q: afterQuery(since) } : {}) }, LIST_PAGE_SIZE * MAX_LIST_PAGES)
        : await this.listIds({ labelIds: [this.label, "UNREAD"] }, LIST_PAGE_SIZE * MAX_LIST_PAGES);
    // Gmail lists newest first; the oldest go first so a backlog is worked off in order.
    return { ids: await this.unknown(listed.reverse()), position: profile.historyId };
  }

  private async listIds(query: { labelIds: string[]; q?: string }, limit: number): Promise<string[]> {
    const ids: string[] = [];
    let pageToken: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES && ids.length < limit; page++) {
      const res = listSchema.parse(
        await this.call("messages.list", (o) =>
          this.gmail.users.messages.list({ userId: "me", ...query, maxResults: Math.min(LIST_PAGE_SIZE, limit - ids.length), pageToken }, o),
        ),
      );
      for (const m of res.messages ?? []) ids.push(m.id);
      pageToken = res.nextPageToken;
      if (!pageToken) break;
    }
    return ids.slice(0, limit);
  }

  protected onCursorExpired(since: Date): void {
    this.opts.log?.info({ event: "cursor_expired", label: this.label, since: since.toISOString() }, "gmail history id expired; re-baselining by date");
  }

  /** format=metadata: size, receive time and headers, before anything big is downloaded. null: gone. */
  protected async getMetadata(id: string): Promise<GmailMeta | null> {
    const data = await this.callOrNull("messages.get", (o) => this.gmail.users.messages.get({ userId: "me", id, format: "metadata" }, o));
    if (data === null) return null;
    const msg = metadataSchema.parse(data);
    const meta: GmailMeta = { id: msg.id, size: msg.sizeEstimate ?? 0, headers: msg.payload?.headers ?? [] };
    if (msg.internalDate) meta.receivedAt = new Date(Number(msg.internalDate));
    return meta;
  }

  /** The whole message, or only its headers when it is above maxMessageBytes. null: deleted meanwhile. */
  protected async fetchSized(meta: GmailMeta): Promise<FetchedMessage | null> {
    const base = meta.receivedAt ? { receivedAt: meta.receivedAt } : {};
    if (meta.size > this.maxMessageBytes) {
      return { providerMessageId: meta.id, raw: buildHeaderBlock(meta.headers), size: meta.size, tooLarge: true, ...base };
    }
    const data = await this.callOrNull("messages.get", (o) => this.gmail.users.messages.get({ userId: "me", id: meta.id, format: "raw" }, o));
    if (data === null) return null;
    const msg = rawMessageSchema.parse(data);
    const raw = Buffer.from(msg.raw, "base64url");
    return { providerMessageId: msg.id, raw, size: raw.length, ...base };
  }

  /** The move label's id: moveToFolder may be an id or a label name (looked up once). */
  private async moveLabelId(): Promise<string> {
    if (this.resolvedMoveLabel) return this.resolvedMoveLabel;
    const target = this.opts.moveToFolder?.trim();
    if (!target) throw new MailError("config", "After-ingest is set to move, but no label to move to is set.");
    const byId = await this.callOrNull("labels.get", (o) => this.gmail.users.labels.get({ userId: "me", id: target }, o));
    if (byId !== null) return (this.resolvedMoveLabel = labelSchema.parse(byId).id);
    const all = labelListSchema.parse(await this.call("labels.list", (o) => this.gmail.users.labels.list({ userId: "me" }, o)));
    const found = (all.labels ?? []).find((l) => l.name === target) ?? (all.labels ?? []).find((l) => l.name?.toLowerCase() === target.toLowerCase());
    if (!found) throw new MailError("folder_missing", `The Gmail label "${target}" to move messages to does not exist.`);
    return (this.resolvedMoveLabel = found.id);
  }

  protected async pollRound(signal: AbortSignal): Promise<boolean> {
    await this.maintainWatch(signal);
    return this.pollHistory(signal);
  }

  /**
   * Push path: a Pub/Sub notification arrived for this mailbox. A pending waitForChange returns
   * "changed" at once; with none pending, the next one does.
   */
  notifyChange(_event: PushEvent = "changed"): void {
    this.session.changes.notifyChange();
  }

  /** users.watch on the watched label; renew before `expiration` (Gmail asks for at least daily). */
  async startWatch(opts: { topicName: string }): Promise<{ historyId: string; expiration: Date }> {
    return this.session.guard(async () => {
      const data = await this.requestWatch(opts.topicName);
      return { historyId: data.historyId, expiration: new Date(Number(data.expiration)) };
    });
  }

  async stopWatch(): Promise<void> {
    await this.session.guard(() => this.requestStop());
  }

  private async requestWatch(topicName: string, signal?: AbortSignal): Promise<z.infer<typeof watchSchema>> {
    const requestBody = { topicName, labelIds: [this.label], labelFilterBehavior: "include" };
    return watchSchema.parse(await this.call("watch", (o) => this.gmail.users.watch({ userId: "me", requestBody }, o), signal));
  }

  private async requestStop(): Promise<void> {
    await this.call("stop", (o) => this.gmail.users.stop({ userId: "me" }, o));
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

  /**
   * true when a message was added to the label past the cursor. With nothing new, the cursor
   * advances in memory only (it is committed with the next rows): persisting every poll would be a
   * database write per mailbox per interval, and a stale stored cursor only replays empty history.
   */
  private async pollHistory(signal: AbortSignal): Promise<boolean> {
    const start = this.discovery.position;
    if (!start || this.discovery.working) return true;
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
      // Expired: fetchNew re-baselines.
      if (data === null) return true;
      const res = historySchema.parse(data);
      latest = res.historyId;
      if (addedIds(res, this.label).length > 0) return true;
      pageToken = res.nextPageToken;
    } while (pageToken);
    this.discovery.advanceIdle({ from: start, to: latest });
    return false;
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

  /** One API call under the shared policy (api-call.ts); a 404 comes back as notFound for the caller. */
  private async execute(
    method: GmailMethod,
    fn: (o: { headers: Record<string, string>; signal: AbortSignal }) => Promise<{ data: unknown }>,
    outerSignal?: AbortSignal,
  ): Promise<{ notFound: false; data: unknown } | { notFound: true }> {
    return runApiCall<{ notFound: false; data: unknown } | { notFound: true }>({
      service: GMAIL_SERVICE,
      policy: this.retryPolicy,
      signal: this.session.callSignal(outerSignal),
      usage: this.usage,
      units: GMAIL_QUOTA_UNITS[method],
      getAccessToken: this.opts.getAccessToken,
      attempt: async (token, signal) => {
        const res = await fn({ headers: { Authorization: `Bearer ${token}` }, signal });
        this.session.markActivity();
        return { kind: "done", value: { notFound: false, data: res.data } };
      },
      classifyThrown: (err) => {
        const failure = classifyGoogleError(err);
        if (failure.kind !== "not_found") return failure;
        this.session.markActivity();
        return { kind: "done", value: { notFound: true } };
      },
      logFields: { method },
      log: this.opts.log,
    });
  }
}

type GoogleFailure = ApiFailure | { kind: "not_found" };

/** Maps a gaxios error to the policy above. The cause kept is a summary: gaxios errors carry request headers. */
function classifyGoogleError(err: unknown): GoogleFailure {
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
  const withRetryAfter = (code: MailErrorCode, message: string): GoogleFailure =>
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
  return parseJsonWith(googleErrorSchema, data)?.error ?? null;
}

/** Gmail sometimes names the time only in the message: "User-rate limit exceeded.  Retry after 2024-05-01T10:00:00.000Z". */
function parseRetryAfterFromMessage(message: string): number | undefined {
  const match = /retry after (\d{4}-\d{2}-\d{2}T[\d:.]+Z)/i.exec(message);
  if (!match?.[1]) return undefined;
  const at = Date.parse(match[1]);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

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
