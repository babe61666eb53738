/**
 * Test-only fake of the Gmail API v1: a node:http server on 127.0.0.1 that implements just the
 * endpoints GmailProvider uses, with Google's documented JSON shapes, status codes and error
 * bodies (`{error:{code,message,status,errors:[{reason,domain,message}]}}`). It is reached through
 * googleapis' own `rootUrl` option, so the real client library, URL building and error handling run.
 *
 * Semantics kept faithful where the provider depends on them:
 * - historyId is per user, monotonic and not contiguous (it jumps by 1..3), and is a decimal string.
 * - history.list returns records *after* startHistoryId; a startHistoryId older than the retained
 *   history is 404 notFound (what Gmail answers once history has been pruned).
 * - messages.list is newest first and pages with an opaque nextPageToken; an empty result has no
 *   `messages` key.
 * - `raw` is base64url; numeric 64-bit fields (historyId, internalDate, expiration) are strings.
 * - format=metadata carries `payload.headers` (name/value pairs of the header block) and
 *   `sizeEstimate`, as Gmail's does; history.list filters by `historyTypes` and `labelId`.
 * Deliberate simplifications: one thread per message; batchModify ignores unknown ids; `q` supports
 * only `is:unread`, `is:read`, `in:<label>`, `after:<epoch seconds>` and `before:<epoch seconds>`
 * terms (Gmail also takes dates there).
 */
import { randomBytes } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readBody } from "./fake-http";
import { parseHeaderBlock } from "./sample-mime";

export type GmailFakeMessage = {
  id: string;
  threadId: string;
  labelIds: string[];
  raw: Buffer;
  /** Epoch milliseconds. */
  internalDate: number;
  historyId: string;
};

export type GmailFaultKind =
  /** 429 RESOURCE_EXHAUSTED, reason rateLimitExceeded. */
  | "rate_limit_429"
  /** 403 with reason rateLimitExceeded or userRateLimitExceeded (usageLimits domain). */
  | "rate_limit_403"
  /** 503 UNAVAILABLE, reason backendError. */
  | "unavailable_503"
  /** 401 UNAUTHENTICATED whatever the token (a token revoked server-side). */
  | "unauthorized_401"
  /** 403 PERMISSION_DENIED, reason insufficientPermissions (a token without the Gmail scope). */
  | "insufficient_scope_403"
  /** The socket is destroyed without a response. */
  | "connection_reset";

export type GmailFault = {
  kind: GmailFaultKind;
  /** How many matching requests fail; default 1. */
  count?: number;
  /** Only requests whose path contains this string (e.g. "/history", "/messages/"). */
  path?: string;
  /** Retry-After header value (seconds or an HTTP date). */
  retryAfter?: string;
  /** For rate_limit_403; default rateLimitExceeded. */
  reason?: "rateLimitExceeded" | "userRateLimitExceeded";
};

export type GmailFakeRequest = { method: string; path: string; query: string; status: number };

export type GmailFake = {
  /** With a trailing slash, as googleapis expects. */
  rootUrl: string;
  defaultUser: string;
  addMessage(user: string, raw: Buffer | string, opts?: { labelIds?: string[]; internalDate?: Date }): { id: string; historyId: string };
  messages(user?: string): GmailFakeMessage[];
  currentHistoryId(user?: string): string;
  /** Replaces the tokens accepted for `user` (default user when omitted). Others get 401. */
  setValidTokens(tokens: string[], user?: string): void;
  /**
   * Tokens the static list does not know are asked here (issue 18: the local OAuth server's JWTs,
   * e.g. a domain-wide-delegation token, answers the impersonated user's address).
   */
  setTokenResolver(resolve: ((token: string) => Promise<string | null>) | null): void;
  injectFault(fault: GmailFault): void;
  /** Drops all history up to now: any older startHistoryId is then answered with 404. */
  expireHistory(user?: string): void;
  createLabel(user: string, name: string): string;
  /** Changes a message's labels as another client would (e.g. read in the Gmail UI: remove UNREAD). */
  modifyLabels(user: string, id: string, change: { add?: string[]; remove?: string[] }): void;
  /**
   * Where users.watch notifications are POSTed as Pub/Sub push envelopes (null: nowhere). With
   * `authorization`, each push carries the header it returns (Pub/Sub's authenticated push sends
   * `Bearer <OIDC token>`).
   */
  setPushEndpoint(url: string | null, opts?: { authorization?: () => Promise<string> }): void;
  /** Lifetime of the watches users.watch grants from now on (Gmail: 7 days). */
  setWatchLifetime(ms: number): void;
  /** Answers of the push endpoint, in order (status codes; 0 when it could not be reached). */
  pushResults: number[];
  watches(user?: string): { topicName: string; labelIds: string[]; expiration: string }[];
  requests: GmailFakeRequest[];
  close(): Promise<void>;
};

type UserState = {
  email: string;
  historyId: number;
  /** history.list answers 404 for a startHistoryId below this. */
  historyFloor: number;
  history: HistoryRecord[];
  messages: Map<string, GmailFakeMessage>;
  labels: Map<string, { id: string; name: string; type: "system" | "user" }>;
  watch: { topicName: string; labelIds: string[]; expiration: string } | null;
};

type MessageRef = { id: string; threadId: string; labelIds: string[] };
type HistoryRecord = {
  id: number;
  messages: { id: string; threadId: string }[];
  messagesAdded?: { message: MessageRef }[];
  labelsAdded?: { message: MessageRef; labelIds: string[] }[];
  labelsRemoved?: { message: MessageRef; labelIds: string[] }[];
};

const SYSTEM_LABELS = ["INBOX", "UNREAD", "SPAM", "TRASH", "SENT", "DRAFT", "IMPORTANT", "STARRED", "CATEGORY_PERSONAL"];
const HISTORY_TYPES = ["messageAdded", "messageDeleted", "labelAdded", "labelRemoved"] as const;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly statusText: string,
    readonly reason: string,
    message: string,
    readonly domain = "global",
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const badRequest = (message: string): HttpError => new HttpError(400, "INVALID_ARGUMENT", "invalidArgument", message);
const notFound = (): HttpError => new HttpError(404, "NOT_FOUND", "notFound", "Requested entity was not found.");

function googleErrorBody(err: HttpError): string {
  const entry: Record<string, string> = { message: err.message, domain: err.domain, reason: err.reason };
  if (err.status === 401) {
    entry.location = "Authorization";
    entry.locationType = "header";
  }
  return JSON.stringify({ error: { code: err.status, message: err.message, errors: [entry], status: err.statusText } });
}

function faultError(fault: GmailFault): HttpError {
  const headers: Record<string, string> = fault.retryAfter !== undefined ? { "retry-after": fault.retryAfter } : {};
  switch (fault.kind) {
    case "rate_limit_429":
      return new HttpError(429, "RESOURCE_EXHAUSTED", "rateLimitExceeded", "Too many concurrent requests for user.", "global", headers);
    case "rate_limit_403": {
      const reason = fault.reason ?? "rateLimitExceeded";
      const message = reason === "userRateLimitExceeded" ? "User Rate Limit Exceeded" : "Rate Limit Exceeded";
      return new HttpError(403, "PERMISSION_DENIED", reason, message, "usageLimits", headers);
    }
    case "unavailable_503":
      return new HttpError(503, "UNAVAILABLE", "backendError", "The service is currently unavailable.", "global", headers);
    case "unauthorized_401":
      return unauthenticated();
    case "insufficient_scope_403":
      return new HttpError(403, "PERMISSION_DENIED", "insufficientPermissions", "Request had insufficient authentication scopes.");
    case "connection_reset":
      throw new Error("connection_reset is handled before dispatch");
  }
}

function unauthenticated(): HttpError {
  return new HttpError(
    401,
    "UNAUTHENTICATED",
    "authError",
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    "global",
    { "www-authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
  );
}

function parseJsonBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through to the documented 400
  }
  throw badRequest("Invalid JSON payload received.");
}

function stringArray(value: unknown, field: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw badRequest(`Invalid value at '${field}'`);
  }
  return value as string[];
}

const encodePageToken = (offset: number): string => Buffer.from(`o:${offset}`).toString("base64url");
function decodePageToken(token: string | null): number {
  if (!token) return 0;
  const match = /^o:(\d+)$/.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (!match?.[1]) throw badRequest("Invalid pageToken");
  return Number(match[1]);
}

function intParam(params: URLSearchParams, name: string, fallback: number, max: number): number {
  const raw = params.get(name);
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw badRequest(`Invalid value for ${name}`);
  return Math.min(n, max);
}

export async function startGmailFake(
  opts: { user?: string; tokens?: string[]; tokenResolver?: (token: string) => Promise<string | null> } = {},
): Promise<GmailFake> {
  let tokenResolver = opts.tokenResolver ?? null;
  const defaultUser = opts.user ?? "user@example.com";
  const users = new Map<string, UserState>();
  const tokens = new Map<string, string>();
  const faults: (GmailFault & { remaining: number })[] = [];
  const requests: GmailFakeRequest[] = [];
  let pushEndpoint: string | null = null;
  let pushAuthorization: (() => Promise<string>) | undefined;
  let watchLifetimeMs = 7 * 24 * 3600 * 1000;
  const pushResults: number[] = [];
  // Gmail ids are 16 hex digits that grow with time; start somewhere realistic.
  let nextId = 0x18c0_0000_0000_0000n + BigInt(randomBytes(2).readUInt16BE());

  function user(email: string): UserState {
    let state = users.get(email);
    if (!state) {
      const start = 100_000 + randomBytes(2).readUInt16BE();
      state = {
        email,
        historyId: start,
        historyFloor: start,
        history: [],
        messages: new Map(),
        labels: new Map(SYSTEM_LABELS.map((id) => [id, { id, name: id, type: "system" as const }])),
        watch: null,
      };
      users.set(email, state);
    }
    return state;
  }

  for (const token of opts.tokens ?? ["test-token"]) tokens.set(token, defaultUser);
  user(defaultUser);

  function bumpHistory(state: UserState): number {
    state.historyId += 1 + Math.floor(Math.random() * 3);
    return state.historyId;
  }

  const ref = (m: GmailFakeMessage): MessageRef => ({ id: m.id, threadId: m.threadId, labelIds: [...m.labelIds] });

  function notifyPush(state: UserState, labelIds: string[]): void {
    const watch = state.watch;
    if (!pushEndpoint || !watch) return;
    if (watch.labelIds.length > 0 && !labelIds.some((l) => watch.labelIds.includes(l))) return;
    const data = Buffer.from(JSON.stringify({ emailAddress: state.email, historyId: state.historyId })).toString("base64");
    const messageId = String(Date.now()) + String(randomBytes(2).readUInt16BE());
    const publishTime = new Date().toISOString();
    // Pub/Sub push delivery: both camelCase and snake_case field names, as the real service sends.
    const envelope = {
      message: { data, messageId, message_id: messageId, publishTime, publish_time: publishTime },
      subscription: "projects/fake-project/subscriptions/gmail-push",
    };
    const endpoint = pushEndpoint;
    void (async () => {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (pushAuthorization) headers.authorization = await pushAuthorization();
      const res = await fetch(endpoint, { method: "POST", headers, body: JSON.stringify(envelope) });
      await res.arrayBuffer();
      pushResults.push(res.status);
    })().catch(() => pushResults.push(0));
  }

  function modifyLabels(state: UserState, m: GmailFakeMessage, add: string[], remove: string[]): void {
    const added = add.filter((l) => !m.labelIds.includes(l));
    const removed = remove.filter((l) => m.labelIds.includes(l));
    if (added.length === 0 && removed.length === 0) return;
    m.labelIds = [...m.labelIds.filter((l) => !removed.includes(l)), ...added];
    const id = bumpHistory(state);
    m.historyId = String(id);
    const record: HistoryRecord = { id, messages: [{ id: m.id, threadId: m.threadId }] };
    if (added.length) record.labelsAdded = [{ message: ref(m), labelIds: added }];
    if (removed.length) record.labelsRemoved = [{ message: ref(m), labelIds: removed }];
    state.history.push(record);
    notifyPush(state, [...m.labelIds, ...removed]);
  }

  function takeFault(path: string): GmailFault | null {
    const index = faults.findIndex((f) => f.remaining > 0 && (!f.path || path.includes(f.path)));
    if (index < 0) return null;
    const fault = faults[index]!;
    fault.remaining -= 1;
    if (fault.remaining <= 0) faults.splice(index, 1);
    return fault;
  }

  async function authenticate(req: IncomingMessage): Promise<string> {
    const header = req.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const token = match?.[1];
    const email = token ? (tokens.get(token) ?? (tokenResolver ? await tokenResolver(token) : null)) : null;
    if (!email) throw unauthenticated();
    return email;
  }

  function listMessages(state: UserState, params: URLSearchParams): unknown {
    const labelIds = params.getAll("labelIds");
    for (const l of labelIds) if (!state.labels.has(l)) throw badRequest(`Invalid label: ${l}`);
    const includeSpamTrash = params.get("includeSpamTrash") === "true";
    const q = (params.get("q") ?? "").trim();
    const terms = q ? q.split(/\s+/) : [];
    const predicates = terms.map((term): ((m: GmailFakeMessage) => boolean) => {
      if (term === "is:unread") return (m) => m.labelIds.includes("UNREAD");
      if (term === "is:read") return (m) => !m.labelIds.includes("UNREAD");
      const time = /^(after|before):(\d+)$/i.exec(term);
      if (time?.[1] && time[2]) {
        const at = Number(time[2]) * 1000;
        return time[1].toLowerCase() === "after" ? (m) => m.internalDate > at : (m) => m.internalDate < at;
      }
      const inLabel = /^in:(.+)$/i.exec(term);
      if (inLabel?.[1]) {
        const label = inLabel[1].toUpperCase();
        return (m) => m.labelIds.includes(label);
      }
      throw badRequest(`Unsupported query term in fake: ${term}`);
    });
    const matching = [...state.messages.values()]
      .filter((m) => includeSpamTrash || !(m.labelIds.includes("SPAM") || m.labelIds.includes("TRASH")))
      .filter((m) => labelIds.every((l) => m.labelIds.includes(l)))
      .filter((m) => predicates.every((p) => p(m)))
      // Gmail lists newest first.
      .sort((a, b) => b.internalDate - a.internalDate || (b.id < a.id ? -1 : 1));
    const maxResults = intParam(params, "maxResults", 100, 500);
    const offset = decodePageToken(params.get("pageToken"));
    const page = matching.slice(offset, offset + maxResults);
    const body: Record<string, unknown> = { resultSizeEstimate: matching.length };
    if (page.length) body.messages = page.map((m) => ({ id: m.id, threadId: m.threadId }));
    if (offset + maxResults < matching.length) body.nextPageToken = encodePageToken(offset + maxResults);
    return body;
  }

  function getMessage(state: UserState, id: string, params: URLSearchParams): unknown {
    const m = state.messages.get(id);
    if (!m) throw notFound();
    const format = params.get("format") ?? "full";
    if (!["raw", "minimal", "full", "metadata"].includes(format)) throw badRequest(`Invalid value at 'format' (${format})`);
    const body: Record<string, unknown> = {
      id: m.id,
      threadId: m.threadId,
      labelIds: [...m.labelIds],
      snippet: m.raw.toString("latin1").split(/\r?\n\r?\n/)[1]?.slice(0, 100) ?? "",
      sizeEstimate: m.raw.length,
      historyId: m.historyId,
      internalDate: String(m.internalDate),
    };
    if (format === "raw") body.raw = m.raw.toString("base64url");
    if (format === "metadata") {
      const wanted = params.getAll("metadataHeaders").map((h) => h.toLowerCase());
      const headers = parseHeaderBlock(m.raw).filter((h) => wanted.length === 0 || wanted.includes(h.name.toLowerCase()));
      body.payload = { partId: "", mimeType: "message/rfc822", filename: "", headers };
    }
    return body;
  }

  function listHistory(state: UserState, params: URLSearchParams): unknown {
    const start = params.get("startHistoryId");
    if (!start || !/^\d+$/.test(start)) throw badRequest("Invalid startHistoryId");
    const startId = Number(start);
    if (startId < state.historyFloor) throw notFound();
    const types = params.getAll("historyTypes");
    for (const t of types) if (!(HISTORY_TYPES as readonly string[]).includes(t)) throw badRequest(`Invalid value at 'history_types' (${t})`);
    const labelId = params.get("labelId");
    const wants = (t: (typeof HISTORY_TYPES)[number]): boolean => types.length === 0 || types.includes(t);
    const hasLabel = (m: MessageRef): boolean => !labelId || m.labelIds.includes(labelId);
    const records: HistoryRecord[] = [];
    for (const record of state.history) {
      if (record.id <= startId) continue;
      const out: HistoryRecord = { id: record.id, messages: record.messages };
      const added = wants("messageAdded") ? record.messagesAdded?.filter((e) => hasLabel(e.message)) : undefined;
      const labelsAdded = wants("labelAdded") ? record.labelsAdded?.filter((e) => hasLabel(e.message)) : undefined;
      const labelsRemoved = wants("labelRemoved")
        ? record.labelsRemoved?.filter((e) => !labelId || e.message.labelIds.includes(labelId) || e.labelIds.includes(labelId))
        : undefined;
      if (added?.length) out.messagesAdded = added;
      if (labelsAdded?.length) out.labelsAdded = labelsAdded;
      if (labelsRemoved?.length) out.labelsRemoved = labelsRemoved;
      if (out.messagesAdded || out.labelsAdded || out.labelsRemoved) records.push(out);
    }
    const maxResults = intParam(params, "maxResults", 100, 500);
    const offset = decodePageToken(params.get("pageToken"));
    const page = records.slice(offset, offset + maxResults);
    const body: Record<string, unknown> = { historyId: String(state.historyId) };
    if (page.length) body.history = page.map((r) => ({ ...r, id: String(r.id) }));
    if (offset + maxResults < records.length) body.nextPageToken = encodePageToken(offset + maxResults);
    return body;
  }

  async function route(req: IncomingMessage, url: URL): Promise<{ status: number; body?: unknown }> {
    const match = /^\/gmail\/v1\/users\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!match?.[1] || !match[2]) throw notFound();
    const email = await authenticate(req);
    const userId = decodeURIComponent(match[1]);
    if (userId !== "me" && userId !== email) {
      throw new HttpError(403, "PERMISSION_DENIED", "forbidden", `Delegation denied for ${email}`);
    }
    const state = user(email);
    const rest = match[2];
    const params = url.searchParams;
    const method = req.method ?? "GET";
    let m: RegExpExecArray | null;

    if (method === "GET" && rest === "profile") {
      const threads = new Set([...state.messages.values()].map((x) => x.threadId));
      return {
        status: 200,
        body: { emailAddress: state.email, messagesTotal: state.messages.size, threadsTotal: threads.size, historyId: String(state.historyId) },
      };
    }
    if (method === "GET" && rest === "labels") {
      return { status: 200, body: { labels: [...state.labels.values()].map((l) => ({ id: l.id, name: l.name, type: l.type })) } };
    }
    if (method === "GET" && (m = /^labels\/([^/]+)$/.exec(rest))) {
      const label = state.labels.get(decodeURIComponent(m[1]!));
      if (!label) throw notFound();
      const all = [...state.messages.values()].filter((x) => x.labelIds.includes(label.id));
      const unread = all.filter((x) => x.labelIds.includes("UNREAD"));
      return {
        status: 200,
        body: {
          id: label.id,
          name: label.name,
          type: label.type,
          messageListVisibility: "show",
          labelListVisibility: "labelShow",
          messagesTotal: all.length,
          messagesUnread: unread.length,
          threadsTotal: all.length,
          threadsUnread: unread.length,
        },
      };
    }
    if (method === "GET" && rest === "messages") return { status: 200, body: listMessages(state, params) };
    if (method === "GET" && (m = /^messages\/([^/]+)$/.exec(rest))) {
      return { status: 200, body: getMessage(state, decodeURIComponent(m[1]!), params) };
    }
    if (method === "POST" && rest === "messages/batchModify") {
      const body = parseJsonBody(await readBody(req));
      const ids = stringArray(body.ids, "ids");
      if (ids.length > 1000) throw badRequest("Too many ids: at most 1000 per request.");
      const add = stringArray(body.addLabelIds, "add_label_ids");
      const remove = stringArray(body.removeLabelIds, "remove_label_ids");
      for (const l of [...add, ...remove]) if (!state.labels.has(l)) throw badRequest(`Invalid label: ${l}`);
      for (const id of ids) {
        const msg = state.messages.get(id);
        if (msg) modifyLabels(state, msg, add, remove);
      }
      return { status: 204 };
    }
    if (method === "POST" && (m = /^messages\/([^/]+)\/modify$/.exec(rest))) {
      const msg = state.messages.get(decodeURIComponent(m[1]!));
      if (!msg) throw notFound();
      const body = parseJsonBody(await readBody(req));
      const add = stringArray(body.addLabelIds, "add_label_ids");
      const remove = stringArray(body.removeLabelIds, "remove_label_ids");
      for (const l of [...add, ...remove]) if (!state.labels.has(l)) throw badRequest(`Invalid label: ${l}`);
      modifyLabels(state, msg, add, remove);
      return { status: 200, body: { id: msg.id, threadId: msg.threadId, labelIds: [...msg.labelIds] } };
    }
    if (method === "GET" && rest === "history") return { status: 200, body: listHistory(state, params) };
    if (method === "POST" && rest === "watch") {
      const body = parseJsonBody(await readBody(req));
      if (typeof body.topicName !== "string" || !/^projects\/[^/]+\/topics\/[^/]+$/.test(body.topicName)) {
        throw badRequest("Invalid topicName does not match projects/*/topics/*");
      }
      const labelIds = stringArray(body.labelIds, "label_ids");
      const expiration = String(Date.now() + watchLifetimeMs);
      state.watch = { topicName: body.topicName, labelIds, expiration };
      return { status: 200, body: { historyId: String(state.historyId), expiration } };
    }
    if (method === "POST" && rest === "stop") {
      state.watch = null;
      return { status: 204 };
    }
    throw notFound();
  }

  const server = http.createServer((req, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const entry: GmailFakeRequest = { method: req.method ?? "GET", path: url.pathname, query: url.search, status: 0 };
    requests.push(entry);
    const send = (status: number, body?: string, headers: Record<string, string> = {}): void => {
      entry.status = status;
      const h: Record<string, string> = { ...headers };
      if (body !== undefined) h["content-type"] = "application/json; charset=UTF-8";
      res.writeHead(status, h);
      res.end(body);
    };
    void (async () => {
      try {
        const fault = takeFault(url.pathname);
        if (fault?.kind === "connection_reset") {
          entry.status = -1;
          req.socket.destroy();
          return;
        }
        if (fault) throw faultError(fault);
        const result = await route(req, url);
        send(result.status, result.body === undefined ? undefined : JSON.stringify(result.body));
      } catch (err) {
        if (err instanceof HttpError) send(err.status, googleErrorBody(err), err.headers);
        else send(500, googleErrorBody(new HttpError(500, "INTERNAL", "backendError", String(err))));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    rootUrl: `http://127.0.0.1:${port}/`,
    defaultUser,
    addMessage(email, raw, o = {}) {
      const state = user(email);
      const id = (nextId += BigInt(1 + Math.floor(Math.random() * 1000))).toString(16);
      const labelIds = o.labelIds ?? ["INBOX", "UNREAD"];
      for (const l of labelIds) if (!state.labels.has(l)) throw new Error(`unknown label ${l}`);
      const historyId = bumpHistory(state);
      const message: GmailFakeMessage = {
        id,
        threadId: id,
        labelIds: [...labelIds],
        raw: Buffer.isBuffer(raw) ? Buffer.from(raw) : Buffer.from(raw, "utf8"),
        internalDate: (o.internalDate ?? new Date()).getTime(),
        historyId: String(historyId),
      };
      state.messages.set(id, message);
      state.history.push({ id: historyId, messages: [{ id, threadId: id }], messagesAdded: [{ message: ref(message) }] });
      notifyPush(state, message.labelIds);
      return { id, historyId: String(historyId) };
    },
    messages(email = defaultUser) {
      return [...user(email).messages.values()].map((m) => ({ ...m, labelIds: [...m.labelIds], raw: Buffer.from(m.raw) }));
    },
    currentHistoryId(email = defaultUser) {
      return String(user(email).historyId);
    },
    setTokenResolver(resolve) {
      tokenResolver = resolve;
    },
    setValidTokens(list, email = defaultUser) {
      for (const [token, owner] of [...tokens]) if (owner === email) tokens.delete(token);
      for (const token of list) tokens.set(token, email);
    },
    injectFault(fault) {
      faults.push({ ...fault, remaining: fault.count ?? 1 });
    },
    expireHistory(email = defaultUser) {
      const state = user(email);
      state.historyFloor = state.historyId;
      state.history = [];
    },
    createLabel(email, name) {
      const state = user(email);
      const id = `Label_${state.labels.size + 1}`;
      state.labels.set(id, { id, name, type: "user" });
      return id;
    },
    modifyLabels(email, id, change) {
      const state = user(email);
      const msg = state.messages.get(id);
      if (!msg) throw new Error(`no message ${id}`);
      modifyLabels(state, msg, change.add ?? [], change.remove ?? []);
    },
    setWatchLifetime(ms) {
      watchLifetimeMs = ms;
    },
    pushResults,
    setPushEndpoint(url, o = {}) {
      pushEndpoint = url;
      pushAuthorization = o.authorization;
    },
    watches(email = defaultUser) {
      const w = user(email).watch;
      return w ? [{ ...w }] : [];
    },
    requests,
    close() {
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
