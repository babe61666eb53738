import { Client, GraphClientError, ResponseType, type Context, type Middleware } from "@microsoft/microsoft-graph-client";
import { z } from "zod";
import type { PushEvent } from "@/lib/email/provider";
import type { MailAccess } from "@/lib/db/schema";
import { ApiMailProvider, type ApiProviderOptions, type ApiResumeState } from "@/lib/email/api/api-mail-provider";
import type { CursorRound, StartMode } from "@/lib/email/api/cursor-queue";
import {
  abortableSleep,
  backoffDelay,
  buildHeaderBlock,
  describeCause,
  errorMessage,
  networkCode,
  networkFailure,
  parseJsonWith,
  parseRetryAfter,
} from "@/lib/email/api/api-http";
import { connectionClosed, runApiCall, type ApiAttempt, type ApiFailure } from "@/lib/email/api/api-call";
import { isGraphSubscriptionDue, parseStoredTime, PUSH_RETRY_AFTER_FAILURE_MS, pushFailureLogFields } from "@/lib/email/push-renewal";
import { MailError, type FetchedMessage, type MailErrorCode, type MailProvider } from "@/lib/email/provider";

export type GraphProviderOptions = ApiProviderOptions & {
  /** Graph root including the version, e.g. https://graph.microsoft.com/v1.0 or a national cloud's. */
  baseUrl?: string;
  /** Well-known folder name ("inbox") or a folder id; default inbox. */
  folder?: string;
  /** The mailbox's cursor, read fresh at connect; no deltaLink = first connect / re-baseline. */
  syncState?: ApiResumeState & { deltaLink?: string; subscriptionId?: string; subscriptionExpiresAt?: string; subscriptionResource?: string };
  /**
   * Push: keep a change-notification subscription for new messages in the folder, renewed at half
   * its lifetime, with lifecycle notifications to the same URL. While it is in force the delta
   * query slows to fallbackPollIntervalMs: it stays only as the safety net for a lost notification.
   */
  push?: { notificationUrl: string; clientState: string; lifetimeMs: number; fallbackPollIntervalMs: number };
  /**
   * Issue 18: read another mailbox than the token's own, as `/users/{address}/...` (a shared or
   * delegated mailbox with Mail.ReadWrite.Shared, or any mailbox with app-only Mail.ReadWrite).
   * Unset = `/me/...`.
   */
  mailboxAddress?: string;
  /** Issue 18: what a 403 access-denied means for this kind of mailbox, shown as the needs_reauth reason. */
  accessDeniedMessage?: string;
};

const GRAPH_SERVICE = { vendor: "Microsoft", api: "Microsoft Graph", logName: "graph" };

const DEFAULT_BASE_URL = "https://graph.microsoft.com/v1.0";
const REQUEST_TIMEOUT_MS = 30_000;
const LIST_PAGE_LIMIT = 1000;
/** A baseline listing stops here: beyond 10,000 the oldest of those are taken. */
const LIST_MAX = 10_000;
/** PidTagMessageSize (PR_MESSAGE_SIZE): the whole message's size in bytes, as Exchange counts it. */
const MESSAGE_SIZE_PROPERTY = "Integer 0x0E08";
const BATCH_LIMIT = 20;
const DELTA_PAGE_SIZE = 100;
/** Ids that survive moves between folders, so a moved-and-back message is not ingested twice. */
const IMMUTABLE_IDS = 'IdType="ImmutableId"';
const SYNC_RESET_CODES = new Set(["syncstatenotfound", "resyncrequired", "syncstateinvalid"]);
const REAUTH_CODES = new Set(["erroraccessdenied", "accessdenied", "authorization_requestdenied"]);
const MAILBOX_CONFIG_CODES = new Set(["mailboxnotenabledforrestapi", "mailboxnotsupportedforrestapi"]);

const graphErrorSchema = z.object({ error: z.object({ code: z.string().optional(), message: z.string().optional() }) });
const folderSchema = z.object({
  id: z.string(),
  unreadItemCount: z.number().int().nonnegative().optional(),
  totalItemCount: z.number().int().nonnegative().optional(),
});
const messageMetaSchema = z.object({
  id: z.string(),
  receivedDateTime: z.string().optional(),
  singleValueExtendedProperties: z.array(z.object({ id: z.string(), value: z.string() })).optional(),
});
const headersSchema = z.object({ internetMessageHeaders: z.array(z.object({ name: z.string(), value: z.string() })).optional() });
const listSchema = z.object({
  value: z.array(z.object({ id: z.string(), receivedDateTime: z.string().optional() })),
  "@odata.nextLink": z.string().optional(),
});
const deltaSchema = z.object({
  value: z.array(z.object({ id: z.string(), isRead: z.boolean().optional(), "@removed": z.object({ reason: z.string().optional() }).optional() })),
  "@odata.nextLink": z.string().optional(),
  "@odata.deltaLink": z.string().optional(),
});
const batchSchema = z.object({
  responses: z.array(
    z.object({ id: z.string(), status: z.number().int(), headers: z.record(z.string(), z.string()).optional(), body: z.unknown().optional() }),
  ),
});
const subscriptionSchema = z.object({ id: z.string(), expirationDateTime: z.string() });

type GraphMeta = { id: string; size: number; receivedAt?: Date };

/** Graph's filter literal: ISO without milliseconds. */
function graphTime(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

type RequestSpec = { method: "GET" | "POST" | "PATCH" | "DELETE"; path: string; body?: unknown; headers?: Record<string, string>; units?: number };
type Outcome<T> = { ok: true; value: T } | { ok: false; status: number; code: string };

/**
 * The Graph client's last middleware. Unlike the stock HTTPMessageHandler it keeps the fetch error
 * (as GraphClientError.customError, which the client rethrows untouched) so DNS/refused/timeout stay
 * distinguishable, and it bounds every request with a timeout.
 */
class FetchHandler implements Middleware {
  async execute(context: Context): Promise<void> {
    const options = context.options ?? {};
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    options.signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    try {
      context.response = await fetch(context.request, options as RequestInit);
    } catch (err) {
      const wrapped = new GraphClientError(err instanceof Error ? err.message : String(err));
      wrapped.customError = err;
      throw wrapped;
    }
  }
}

/**
 * Microsoft Graph mail access (seed §5.2 graph_provider) on @microsoft/microsoft-graph-client.
 * Change detection is a delta query on the folder; change-notification subscriptions only shorten
 * the wait via notifyChange(). The client runs with our own middleware (no stock retry/auth
 * handlers): the stock ones only attach tokens to https hosts on their allow-list and retry
 * invisibly, while we count calls, honour Retry-After under one policy and never send the token
 * to a host other than the configured base URL.
 *
 * `usage.quotaUnits`: Graph has no unit price per method, but its throttling counts every `$batch`
 * sub-request as a request, so quotaUnits = requests as Graph counts them (= calls without $batch).
 */
export class GraphProvider extends ApiMailProvider<GraphMeta> implements MailProvider {
  readonly access: MailAccess = "graph_api";
  private readonly client: Client;
  /** Normalised base (no trailing slash); every followed link must start with it. */
  private readonly baseUrl: string;
  private readonly folder: string;
  private readonly folderPath: string;
  /** `/me` or `/users/{address}` (issue 18). */
  private readonly userPath: string;
  private subscriptionId: string | undefined;
  private subscriptionExpiresAt: number | undefined;
  private subscriptionResource: string | undefined;
  /** After a failed create/renew, no new try before this time (epoch ms), unless Graph asks for one. */
  private subscriptionRetryAt = 0;
  /** Subscription work a lifecycle notification asked for, done at the next poll round. */
  private pendingLifecycle: "reauthorize" | "resubscribe" | null = null;

  constructor(private readonly opts: GraphProviderOptions) {
    super({
      unexpectedResponse: "Unexpected response from Microsoft Graph.",
      positionKey: "graphDeltaLink",
      position: opts.syncState?.deltaLink,
      policy: opts,
      logName: GRAPH_SERVICE.logName,
      // Outlook allows 4 concurrent requests per mailbox and app.
      fetchConcurrency: Math.max(1, Math.min(4, opts.fetchConcurrency ?? 4)),
    });
    this.baseUrl = (opts.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
    const url = new URL(this.baseUrl);
    const segments = url.pathname.split("/").filter(Boolean);
    // The client joins baseUrl + version + path; the last segment of the configured URL is the version.
    const version = segments.pop() ?? "";
    this.client = Client.initWithMiddleware({
      middleware: new FetchHandler(),
      baseUrl: url.origin + (segments.length ? `/${segments.join("/")}` : ""),
      defaultVersion: version,
    });
    this.folder = opts.folder ?? "inbox";
    this.userPath = opts.mailboxAddress ? `/users/${encodeURIComponent(opts.mailboxAddress)}` : "/me";
    this.folderPath = `${this.userPath}/mailFolders/${encodeURIComponent(this.folder)}`;
    this.subscriptionId = opts.syncState?.subscriptionId;
    this.subscriptionExpiresAt = parseStoredTime(opts.syncState?.subscriptionExpiresAt);
    this.subscriptionResource = opts.syncState?.subscriptionResource;
  }

  protected pushExpiresAt(): number | undefined {
    return this.subscriptionExpiresAt;
  }

  get currentSubscriptionId(): string | undefined {
    return this.subscriptionId;
  }

  /** The delta link waitForChange polls (after the first round). */
  get currentDeltaLink(): string | undefined {
    return this.discovery.position;
  }

  /** One call checks both the token and the folder setting. */
  protected async checkAccess(): Promise<void> {
    const folder = await this.folderInfo("id");
    if (!folder) throw new MailError("folder_missing", `The mail folder "${this.folder}" does not exist.`);
  }

  protected async afterConnect(): Promise<void> {
    await this.maintainSubscription();
  }

  /**
   * Delta over ALL messages of the folder, read or unread (no isRead filter): every message created
   * in or moved into the folder past the stored delta link. Delta "updated" entries for ids already
   * stored (our own mark-read PATCH makes those) are skipped via knownIds, @removed entries are
   * ignored. null: the delta link expired.
   */
  protected async readSince(deltaLink: string): Promise<CursorRound | null> {
    const round = await this.runDelta(deltaLink);
    return round === "reset" ? null : { ids: round.ids, position: round.deltaLink };
  }

  protected onCursorExpired(since: Date): void {
    this.opts.log?.info({ event: "cursor_expired", since: since.toISOString() }, "graph delta link expired; re-baselining by date");
  }

  /** Reconcile: ids of the folder's messages received since `since` (newest first), at most `limit`. */
  async listRecent(opts: { since: Date; limit: number }): Promise<string[]> {
    return this.session.guard(async () => {
      const since = this.discovery.reconcileFrom(opts.since);
      return (await this.listMessages(`receivedDateTime ge ${graphTime(since)}`, "receivedDateTime desc", opts.limit)).map((m) => m.id);
    });
  }

  /**
   * After commit: $batch of up to 20 PATCH {isRead:true} (mark_read) or POST /move to moveToFolder
   * (move; a well-known name or a folder id). A moved message gets a new id in its new folder; the
   * stored id stays what it was here, which is what dedupe needs.
   */
  protected async applyAction(providerMessageIds: string[]): Promise<void> {
    const destinationId = this.afterIngest === "move" ? this.opts.moveToFolder?.trim() : undefined;
    if (this.afterIngest === "move" && !destinationId) throw new MailError("config", "After-ingest is set to move, but no folder to move to is set.");
    for (let i = 0; i < providerMessageIds.length; i += BATCH_LIMIT) {
      await this.batchChunk(providerMessageIds.slice(i, i + BATCH_LIMIT), destinationId);
    }
  }

  /** What each start mode would import now: unread and total of the folder, and since a date. */
  async countStartCandidates(opts: { since?: Date }): Promise<{ unread: number; since: number | null; total: number }> {
    return this.session.guard(async () => {
      const folder = await this.folderInfo("id,unreadItemCount,totalItemCount");
      if (!folder) throw new MailError("folder_missing", `The mail folder "${this.folder}" does not exist.`);
      const since = opts.since ? (await this.listMessages(`receivedDateTime ge ${graphTime(opts.since)}`, "receivedDateTime asc", LIST_MAX)).length : null;
      return { unread: folder.unreadItemCount ?? 0, since, total: folder.totalItemCount ?? 0 };
    });
  }

  /**
   * No delta link: a new delta query over mail received from now on (drained: what it returns
   * arrived during the baseline) plus, for unread/since, the listing of what the mode imports.
   * The delta's start is taken before the listing, so a message arriving in between is in both
   * (deduplicated) rather than in neither.
   */
  protected async planBaseline(mode: StartMode, since: Date | null | undefined): Promise<CursorRound> {
    const from = new Date();
    const round = await this.runDelta(`${this.folderPath}/messages/delta?$select=id,receivedDateTime&$filter=${encodeURIComponent(`receivedDateTime ge ${graphTime(from)}`)}`);
    if (round === "reset") throw new MailError("protocol", "Microsoft Graph refused a new delta query.");
    if (mode === "new_only") return { ids: [], position: round.deltaLink };
    // Exchange requires an $orderby property to lead the $filter ("InefficientFilter" otherwise),
    // hence the always-true receivedDateTime clause for unread.
    const filter =
      mode === "since" ? `receivedDateTime ge ${graphTime(since ?? new Date(0))}` : "receivedDateTime ge 1900-01-01T00:00:00Z and isRead eq false";
    const listed = (await this.listMessages(filter, "receivedDateTime asc", LIST_MAX)).map((m) => m.id);
    return { ids: await this.unknown([...new Set([...listed, ...round.ids])]), position: round.deltaLink };
  }

  /** One delta round from `link` to its deltaLink: ids of messages created/changed (not removed). */
  private async runDelta(link: string, signal?: AbortSignal): Promise<{ ids: string[]; deltaLink: string } | "reset"> {
    let path = this.relativeLink(link);
    const ids: string[] = [];
    for (;;) {
      const page = await this.call(
        { method: "GET", path, headers: { Prefer: `odata.maxpagesize=${DELTA_PAGE_SIZE}, ${IMMUTABLE_IDS}` } },
        json(deltaSchema),
        signal,
        isSyncReset,
      );
      if (!page.ok) {
        if (isSyncReset(page.status, page.code)) return "reset";
        throw this.folderError(page);
      }
      for (const item of page.value.value) if (!item["@removed"]) ids.push(item.id);
      const next = page.value["@odata.nextLink"];
      const delta = page.value["@odata.deltaLink"];
      if (next) {
        path = this.relativeLink(next);
        continue;
      }
      if (!delta) throw new MailError("protocol", "Microsoft Graph ended a delta round without a deltaLink.");
      return { ids: [...new Set(ids)], deltaLink: delta };
    }
  }

  private async listMessages(filter: string, orderby: string, limit: number): Promise<{ id: string; receivedDateTime?: string }[]> {
    let path: string | undefined =
      `${this.folderPath}/messages?$filter=${encodeURIComponent(filter)}&$select=id,receivedDateTime` +
      `&$orderby=${encodeURIComponent(orderby)}&$top=${Math.min(limit, LIST_PAGE_LIMIT)}`;
    const listed: { id: string; receivedDateTime?: string }[] = [];
    while (path && listed.length < limit) {
      const page: Outcome<z.infer<typeof listSchema>> = await this.call({ method: "GET", path, headers: { Prefer: IMMUTABLE_IDS } }, json(listSchema));
      if (!page.ok) throw this.folderError(page);
      listed.push(...page.value.value);
      const next: string | undefined = page.value["@odata.nextLink"];
      path = next ? this.relativeLink(next) : undefined;
    }
    return listed.slice(0, limit);
  }

  /**
   * Size and receive time before the body. Graph has no size property on message; the MAPI
   * PR_MESSAGE_SIZE (PidTagMessageSize, 0x0E08) is read as a single-value extended property.
   * null: the message is gone.
   */
  protected async getMetadata(id: string): Promise<GraphMeta | null> {
    const expand = encodeURIComponent(`singleValueExtendedProperties($filter=id eq '${MESSAGE_SIZE_PROPERTY}')`);
    const res = await this.call(
      { method: "GET", path: `${this.userPath}/messages/${encodeURIComponent(id)}?$select=id,receivedDateTime&$expand=${expand}`, headers: { Prefer: IMMUTABLE_IDS } },
      json(messageMetaSchema),
    );
    if (!res.ok) return null;
    // Graph echoes the id normalised ("Integer 0xe08"), not as requested.
    const prop = res.value.singleValueExtendedProperties?.find((p) => /^integer\s+0x0*e08$/i.test(p.id.trim()));
    const size = prop ? Number(prop.value) : NaN;
    const meta: GraphMeta = { id, size: Number.isFinite(size) ? size : 0 };
    const at = res.value.receivedDateTime ? Date.parse(res.value.receivedDateTime) : NaN;
    if (!Number.isNaN(at)) meta.receivedAt = new Date(at);
    return meta;
  }

  /** $value, or internetMessageHeaders only when above maxMessageBytes. null: deleted meanwhile. */
  protected async fetchSized(meta: GraphMeta): Promise<FetchedMessage | null> {
    const base = meta.receivedAt ? { receivedAt: meta.receivedAt } : {};
    const path = `${this.userPath}/messages/${encodeURIComponent(meta.id)}`;
    if (meta.size > this.maxMessageBytes) {
      const res = await this.call({ method: "GET", path: `${path}?$select=internetMessageHeaders`, headers: { Prefer: IMMUTABLE_IDS } }, json(headersSchema));
      if (!res.ok) return null;
      return { providerMessageId: meta.id, raw: buildHeaderBlock(res.value.internetMessageHeaders ?? []), size: meta.size, tooLarge: true, ...base };
    }
    const res = await this.call({ method: "GET", path: `${path}/$value`, headers: { Prefer: IMMUTABLE_IDS } }, async (r) => Buffer.from(await r.arrayBuffer()));
    if (!res.ok) return null;
    return { providerMessageId: meta.id, raw: res.value, size: res.value.length, ...base };
  }

  protected async pollRound(signal: AbortSignal): Promise<boolean> {
    await this.maintainSubscription(signal);
    return this.pollDelta(signal);
  }

  /**
   * Push path: a change or lifecycle notification arrived. A pending waitForChange returns
   * "changed" at once (a "missed" one needs the same delta round); "reauthorize" and "resubscribe"
   * also make the next poll round renew or recreate the subscription.
   */
  notifyChange(event: PushEvent = "changed"): void {
    if (event === "resubscribe") this.pendingLifecycle = "resubscribe";
    else if (event === "reauthorize" && this.pendingLifecycle === null) this.pendingLifecycle = "reauthorize";
    this.session.changes.notifyChange();
  }

  /** POST /subscriptions for new messages in the folder. Graph validates notificationUrl first. */
  async createSubscription(opts: {
    notificationUrl: string;
    clientState: string;
    expirationDateTime: Date;
    lifecycleNotificationUrl?: string;
  }): Promise<{ id: string; expirationDateTime: Date }> {
    return this.session.guard(() => this.postSubscription(opts));
  }

  private async postSubscription(
    opts: { notificationUrl: string; clientState: string; expirationDateTime: Date; lifecycleNotificationUrl?: string },
    signal?: AbortSignal,
  ): Promise<{ id: string; expirationDateTime: Date }> {
    const body: Record<string, string> = {
      changeType: "created",
      notificationUrl: opts.notificationUrl,
      resource: this.subscriptionResourcePath(),
      expirationDateTime: opts.expirationDateTime.toISOString(),
      clientState: opts.clientState,
    };
    if (opts.lifecycleNotificationUrl) body.lifecycleNotificationUrl = opts.lifecycleNotificationUrl;
    const res = await this.call({ method: "POST", path: "/subscriptions", body }, json(subscriptionSchema), signal);
    if (!res.ok) throw new MailError("protocol", "Microsoft Graph answered 404 when creating a subscription.");
    return { id: res.value.id, expirationDateTime: new Date(res.value.expirationDateTime) };
  }

  /** PATCH the expiration; null when the subscription no longer exists (create a new one). */
  async renewSubscription(id: string, expirationDateTime: Date): Promise<{ id: string; expirationDateTime: Date } | null> {
    return this.session.guard(() => this.patchSubscription(id, expirationDateTime));
  }

  private async patchSubscription(id: string, expirationDateTime: Date, signal?: AbortSignal): Promise<{ id: string; expirationDateTime: Date } | null> {
    const res = await this.call(
      { method: "PATCH", path: `/subscriptions/${encodeURIComponent(id)}`, body: { expirationDateTime: expirationDateTime.toISOString() } },
      json(subscriptionSchema),
      signal,
    );
    return res.ok ? { id: res.value.id, expirationDateTime: new Date(res.value.expirationDateTime) } : null;
  }

  /**
   * Keeps the change-notification subscription alive when push is configured: renew at half its
   * lifetime (push-renewal.ts), renew at once on reauthorizationRequired, create a new one when
   * Graph removed ours or it is gone. A subscription that cannot be set up (notification URL not
   * reachable from Microsoft, validation failed, throttling) only costs push: delta polling goes on
   * at the normal interval and the next try is PUSH_RETRY_AFTER_FAILURE_MS later. A rejected token
   * is the mailbox's problem and ends the connection like any call.
   */
  private async maintainSubscription(signal?: AbortSignal): Promise<void> {
    const push = this.opts.push;
    if (!push) return;
    const now = Date.now();
    if (this.subscriptionId && this.subscriptionResource !== undefined && this.subscriptionResource !== this.subscriptionResourcePath()) {
      // The folder setting changed: the old subscription watches the wrong folder.
      await this.deleteSubscriptionQuietly(this.subscriptionId, signal);
      this.pendingLifecycle = "resubscribe";
    }
    const forced = this.pendingLifecycle;
    if (!forced) {
      if (now < this.subscriptionRetryAt) return;
      if (!isGraphSubscriptionDue({ now, expiresAt: this.subscriptionExpiresAt, lifetimeMs: push.lifetimeMs })) return;
    }
    this.pendingLifecycle = null;
    const expirationDateTime = new Date(now + push.lifetimeMs);
    let result: { id: string; expirationDateTime: Date } | null = null;
    let action: "renewed" | "created" = "renewed";
    try {
      if (this.subscriptionId && forced !== "resubscribe") result = await this.patchSubscription(this.subscriptionId, expirationDateTime, signal);
      if (!result) {
        action = "created";
        result = await this.postSubscription(
          { notificationUrl: push.notificationUrl, lifecycleNotificationUrl: push.notificationUrl, clientState: push.clientState, expirationDateTime },
          signal,
        );
      }
    } catch (err) {
      const fields = pushFailureLogFields(err, signal);
      if (!fields) throw err;
      this.subscriptionRetryAt = now + PUSH_RETRY_AFTER_FAILURE_MS;
      this.opts.log?.warn(fields, "graph subscription could not be set up; polling delta until the next try");
      return;
    }
    this.subscriptionId = result.id;
    this.subscriptionExpiresAt = result.expirationDateTime.getTime();
    this.subscriptionResource = this.subscriptionResourcePath();
    this.subscriptionRetryAt = 0;
    this.opts.log?.info({ event: `push_${action}`, subscription_id: result.id, expires_at: result.expirationDateTime.toISOString() }, `graph subscription ${action}`);
    await this.persist({
      graphSubscriptionId: result.id,
      graphSubscriptionExpiresAt: result.expirationDateTime.toISOString(),
      graphSubscriptionResource: this.subscriptionResourcePath(),
    });
  }

  /**
   * The mailbox is removed or disabled: delete the subscription so Graph stops notifying for it.
   * Best effort: it expires on its own anyway.
   */
  async stopPush(): Promise<void> {
    if (!this.opts.push || !this.subscriptionId) return;
    await this.deleteSubscriptionQuietly(this.subscriptionId);
    this.subscriptionId = undefined;
    this.subscriptionExpiresAt = undefined;
    await this.persist({ graphSubscriptionId: "", graphSubscriptionExpiresAt: "" });
  }

  private async deleteSubscriptionQuietly(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.call({ method: "DELETE", path: `/subscriptions/${encodeURIComponent(id)}` }, async () => undefined, signal);
    } catch (err) {
      if (signal?.aborted) throw err;
      this.opts.log?.info({ event: "push_stop_failed", err: describeCause(err) }, "could not delete the graph subscription; it expires on its own");
    }
  }

  private subscriptionResourcePath(): string {
    return `${this.userPath.slice(1)}/mailFolders('${this.folder.replace(/'/g, "''")}')/messages`;
  }

  /** DELETE the subscription; one that is already gone is fine. */
  async deleteSubscription(id: string): Promise<void> {
    await this.session.guard(() => this.call({ method: "DELETE", path: `/subscriptions/${encodeURIComponent(id)}` }, async () => undefined));
  }

  private async folderInfo(select: string): Promise<z.infer<typeof folderSchema> | null> {
    const res = await this.call({ method: "GET", path: `${this.folderPath}?$select=${select}` }, json(folderSchema));
    if (res.ok) return res.value;
    if (res.status === 404 || res.code.toLowerCase() === "errorinvalididmalformed") return null;
    throw this.folderError(res);
  }

  private folderError(res: { status: number; code: string }): MailError {
    if (res.status === 404) return new MailError("folder_missing", `The mail folder "${this.folder}" does not exist.`);
    return new MailError("protocol", `Microsoft Graph rejected the request (HTTP ${res.status} ${res.code}).`);
  }

  /** One $batch of PATCH isRead (no destination) or POST move; throttled items are retried. */
  private async batchChunk(ids: string[], destinationId: string | undefined): Promise<void> {
    let pending = ids;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const requests = pending.map((id, index) =>
        destinationId
          ? {
              id: String(index),
              method: "POST",
              url: `${this.userPath}/messages/${encodeURIComponent(id)}/move`,
              headers: { "Content-Type": "application/json", Prefer: IMMUTABLE_IDS },
              body: { destinationId },
            }
          : {
              id: String(index),
              method: "PATCH",
              url: `${this.userPath}/messages/${encodeURIComponent(id)}`,
              headers: { "Content-Type": "application/json", Prefer: IMMUTABLE_IDS },
              body: { isRead: true },
            },
      );
      const res = await this.call({ method: "POST", path: "/$batch", body: { requests }, units: requests.length }, json(batchSchema));
      if (!res.ok) throw new MailError("protocol", "Microsoft Graph answered 404 to $batch.");
      const retry: string[] = [];
      let retryAfterMs: number | undefined;
      for (const item of res.value.responses) {
        const id = pending[Number(item.id)];
        if (id === undefined) continue;
        if ((item.status >= 200 && item.status < 300) || item.status === 404) continue;
        if (item.status === 429 || item.status === 503 || item.status === 504 || item.status >= 500) {
          retry.push(id);
          const after = parseRetryAfter(headerFromRecord(item.headers, "retry-after"));
          if (after !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, after);
          continue;
        }
        const code = graphErrorCode(item.body);
        if (item.status === 401) throw new MailError("needs_reauth", "Microsoft rejected the access token; reconnect the mailbox.");
        if (item.status === 403 && REAUTH_CODES.has(code.toLowerCase())) {
          throw new MailError("needs_reauth", this.opts.accessDeniedMessage ?? "The Microsoft grant does not allow changing mail; reconnect the mailbox.", { cause: { status: 403, code } });
        }
        throw new MailError("protocol", `Microsoft Graph refused to ${destinationId ? "move" : "mark read"} a message (HTTP ${item.status} ${code}).`, {
          cause: { status: item.status, code },
        });
      }
      pending = retry;
      if (pending.length === 0) return;
      const tooLong = retryAfterMs !== undefined && retryAfterMs > this.retryPolicy.maxRetryAfterMs;
      if (attempt >= this.retryPolicy.maxAttempts || tooLong) {
        throw new MailError("rate_limited", "Microsoft Graph is throttling this mailbox; it will be retried.", retryAfterMs === undefined ? {} : { retryAfterMs });
      }
      const delay = retryAfterMs ?? backoffDelay(attempt, this.retryPolicy);
      this.opts.log?.warn({ throttled: pending.length, delayMs: delay }, "graph $batch items throttled; retrying them");
      if (!(await abortableSleep(delay, this.session.closeSignal))) throw connectionClosed(GRAPH_SERVICE);
    }
  }

  /**
   * true when a message not stored yet appeared in the folder past the delta link. With nothing
   * new the link advances in memory only (it is committed with the next rows): an older link stays
   * valid and merely replays changes, while persisting every poll would be a write per interval.
   */
  private async pollDelta(signal: AbortSignal): Promise<boolean> {
    const link = this.discovery.position;
    if (!link || this.discovery.working) return true;
    const round = await this.runDelta(link, signal);
    if (round === "reset") return true;
    if ((await this.unknown(round.ids)).length > 0) return true;
    this.discovery.advanceIdle({ from: link, to: round.deltaLink });
    return false;
  }

  /**
   * nextLink/deltaLink are absolute; the request goes out only when they lie under the configured
   * base URL (the bearer token must never reach another host), as a path relative to it.
   */
  private relativeLink(link: string): string {
    if (link.startsWith("/")) return link;
    const prefix = `${this.baseUrl}/`;
    if (link.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) {
      throw new MailError("protocol", "Microsoft Graph returned a link outside the configured base URL.");
    }
    return `/${link.slice(prefix.length)}`;
  }

  /**
   * One Graph call under the shared policy (api-call.ts). 404 (and statuses `passThrough` accepts)
   * come back as `{ok:false}` for the caller to interpret.
   */
  private async call<T>(
    spec: RequestSpec,
    read: (res: Response) => Promise<T>,
    outerSignal?: AbortSignal,
    passThrough?: (status: number, code: string) => boolean,
  ): Promise<Outcome<T>> {
    return runApiCall<Outcome<T>>({
      service: GRAPH_SERVICE,
      policy: this.retryPolicy,
      signal: this.session.callSignal(outerSignal),
      usage: this.usage,
      units: spec.units ?? 1,
      getAccessToken: this.opts.getAccessToken,
      attempt: async (token, signal): Promise<ApiAttempt<Outcome<T>>> => {
        const response = await this.send(spec, token, signal);
        if (response.ok) {
          const value = await read(response);
          this.session.markActivity();
          return { kind: "done", value: { ok: true, value } };
        }
        const body = await response.text().catch(() => "");
        const code = graphErrorCode(body);
        this.session.markActivity();
        if (response.status === 404 && !MAILBOX_CONFIG_CODES.has(code.toLowerCase())) return { kind: "done", value: { ok: false, status: 404, code } };
        if (passThrough?.(response.status, code)) return { kind: "done", value: { ok: false, status: response.status, code } };
        return classifyGraphResponse(response.status, code, graphErrorMessage(body), response.headers.get("retry-after"), this.opts.accessDeniedMessage);
      },
      classifyThrown: (err) => {
        if (err instanceof MailError) throw err;
        // A 2xx body that is not what Graph documents: retrying would not change it.
        if (err instanceof z.ZodError || err instanceof SyntaxError) {
          throw new MailError("protocol", "Unexpected response from Microsoft Graph.", { cause: describeCause(err) });
        }
        return classifyGraphThrown(err);
      },
      logFields: { path: spec.path.split("?")[0] },
      log: this.opts.log,
    });
  }

  private async send(spec: RequestSpec, token: string, signal: AbortSignal): Promise<Response> {
    let request = this.client.api(spec.path).responseType(ResponseType.RAW).option("signal", signal).header("Authorization", `Bearer ${token}`);
    for (const [name, value] of Object.entries(spec.headers ?? {})) request = request.header(name, value);
    // ResponseType.RAW hands back the fetch Response for any status: bytes stay bytes ($value) and
    // error bodies and Retry-After stay readable.
    let response: unknown;
    switch (spec.method) {
      case "GET":
        response = await request.get();
        break;
      case "POST":
        response = await request.post(spec.body);
        break;
      case "PATCH":
        response = await request.patch(spec.body);
        break;
      case "DELETE":
        response = await request.delete();
        break;
    }
    if (!(response instanceof Response)) throw new MailError("protocol", "The Graph client returned no HTTP response.");
    return response;
  }
}

function json<S extends z.ZodType>(schema: S): (res: Response) => Promise<z.infer<S>> {
  return async (res) => schema.parse(await res.json()) as z.infer<S>;
}

function isSyncReset(status: number, code: string): boolean {
  return status === 410 || (status === 400 && SYNC_RESET_CODES.has(code.toLowerCase()));
}

function classifyGraphResponse(status: number, code: string, message: string, retryAfter: string | null, accessDeniedMessage?: string): ApiFailure {
  const cause = { status, code, message };
  const retryAfterMs = parseRetryAfter(retryAfter);
  const retry = (c: MailErrorCode, m: string): ApiFailure =>
    retryAfterMs === undefined ? { kind: "retry", code: c, message: m, cause } : { kind: "retry", code: c, message: m, retryAfterMs, cause };
  const lower = code.toLowerCase();
  if (status === 401) return { kind: "unauthorized", cause };
  if (status === 429 || status === 503 || status === 504) return retry("rate_limited", "Microsoft Graph is throttling this mailbox; it will be retried.");
  if (status >= 500) return retry("network", `Microsoft Graph answered with a server error (HTTP ${status}).`);
  if (MAILBOX_CONFIG_CODES.has(lower)) {
    return { kind: "fatal", error: new MailError("config", "This account has no Exchange Online mailbox that Graph can reach.", { cause }) };
  }
  if (status === 403) {
    if (REAUTH_CODES.has(lower)) {
      return { kind: "fatal", error: new MailError("needs_reauth", accessDeniedMessage ?? "The Microsoft grant does not allow mail access; reconnect the mailbox.", { cause }) };
    }
    return { kind: "fatal", error: new MailError("auth", "Microsoft refused access to this mailbox.", { cause }) };
  }
  return { kind: "fatal", error: new MailError("protocol", `Microsoft Graph rejected the request (HTTP ${status}${code ? ` ${code}` : ""}).`, { cause }) };
}

function classifyGraphThrown(err: unknown): ApiFailure {
  // FetchHandler puts the fetch error in customError; anything else is the client's own failure.
  const original = err instanceof GraphClientError && err.customError !== undefined ? err.customError : err;
  const code = networkCode(original);
  return { kind: "retry", ...networkFailure(code, "Microsoft Graph"), cause: { code, message: errorMessage(original) } };
}

function parseGraphError(body: unknown): { code: string; message: string } {
  const error = parseJsonWith(graphErrorSchema, body)?.error;
  return { code: error?.code ?? "", message: error?.message ?? "" };
}

const graphErrorCode = (body: unknown): string => parseGraphError(body).code;
const graphErrorMessage = (body: unknown): string => parseGraphError(body).message;

function headerFromRecord(headers: Record<string, string> | undefined, name: string): string | null {
  if (!headers) return null;
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return null;
}
