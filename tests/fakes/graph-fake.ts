/**
 * Test-only fake of Microsoft Graph v1.0 mail: a node:http server on 127.0.0.1 implementing just
 * the endpoints GraphProvider uses, with Graph's documented JSON shapes, status codes and error
 * bodies (`{error:{code,message,innerError:{date,request-id,client-request-id}}}`). It is reached
 * through the Graph client's own `baseUrl`, so the real client library builds and sends requests.
 *
 * Semantics kept faithful where the provider depends on them:
 * - Delta query: the first round pages through the folder with @odata.nextLink ($skiptoken) and
 *   ends with an @odata.deltaLink ($deltatoken); later rounds return only messages changed since
 *   the token (removed ones as `{id, "@removed":{reason}}`). Page size follows
 *   `Prefer: odata.maxpagesize` (default 10). Tokens can be expired (410 SyncStateNotFound or a
 *   400 code of your choice), as Exchange does after long inactivity.
 * - Delta supports only `$filter=receivedDateTime ge|gt <date>` and `$select`.
 * - Message lists: `$filter` on isRead/receivedDateTime joined by `and`; with `$orderby` the ordered
 *   property must come first in `$filter`, else 400 InefficientFilter (the real, documented rule);
 *   default `$top` 10 (max 1000); @odata.nextLink uses `$skip` and form-encoded query, like Graph.
 * - `$expand=singleValueExtendedProperties($filter=id eq 'Integer 0x0E08')` returns the MAPI
 *   message size (PidTagMessageSize) as Graph does (id normalised to "Integer 0xe08", value a
 *   string); `$select=internetMessageHeaders` returns the header block as name/value pairs.
 * - POST /me/messages/{id}/move {destinationId}: the message leaves the folder (a delta @removed
 *   there) and is created in the destination; with `Prefer: IdType="ImmutableId"` its id stays.
 * - `$batch`: at most 20 requests, sub-responses matched by id (returned in reverse order on
 *   purpose: clients must not rely on order).
 * - Subscriptions: creation runs the validation handshake against notificationUrl (POST
 *   ?validationToken=..., expects 200 text/plain echo); created messages are then notified.
 *   Unlike Graph, http:// notification URLs are accepted (no TLS locally).
 * - Other mailboxes (issue 18): `/users/{address}/...` is the same API on that mailbox. A delegated
 *   token may use it for its own mailbox or one it was given access to (`grantMailboxAccess`, like
 *   Exchange's Full Access + Mail.ReadWrite.Shared); otherwise 403 ErrorAccessDenied. An app-only
 *   token (`tokenResolver` answering `{kind:"app"}`) needs the Mail.ReadWrite role and passes the
 *   application access policy (`setAppAccessPolicy`, else 403 ErrorAccessDenied "[RAOP]"), and
 *   gets Graph's 400 for `/me`. Change notifications for another user's mailbox under delegated
 *   permissions are refused (403 ExtensionError), as Graph documents for shared mailboxes.
 */
import { randomBytes, randomUUID } from "node:crypto";
import http, { type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readBody } from "./fake-http";
import { parseHeaderBlock } from "./sample-mime";

export type GraphFakeMessage = {
  id: string;
  folderId: string;
  isRead: boolean;
  receivedDateTime: string;
  subject: string;
  raw: Buffer;
};

export type GraphFaultKind =
  /** 429 with Retry-After (Outlook's MailboxConcurrency / ApplicationThrottled). */
  | "throttle_429"
  /** 503 ServiceUnavailable. */
  | "unavailable_503"
  /** 504 GatewayTimeout. */
  | "gateway_timeout_504"
  /** 401 InvalidAuthenticationToken whatever the token. */
  | "unauthorized_401"
  /** 403 ErrorAccessDenied (missing Mail.ReadWrite consent). */
  | "access_denied_403"
  /** The socket is destroyed without a response. */
  | "connection_reset";

export type GraphFault = {
  kind: GraphFaultKind;
  count?: number;
  /** Only requests whose path contains this string (e.g. "/delta", "/$value", "/$batch"). */
  path?: string;
  retryAfter?: string;
  /** Hit `$batch` sub-requests instead of top-level requests; they answer inside the batch response. */
  inBatch?: boolean;
};

export type GraphFakeRequest = { method: string; path: string; query: string; status: number; batchItem?: boolean };

export type GraphFakeSubscription = {
  id: string;
  resource: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl?: string;
  clientState?: string;
  expirationDateTime: string;
  folderId: string | null;
  user: string;
  /** Who created it (a user's address or `app:{appId}`): only they may read, renew or delete it. */
  creator: string;
};

/** Who a bearer token speaks for (issue 18): a signed-in user, or an application (client credentials). */
export type GraphFakePrincipal =
  /** `scopes`, when known, must hold Mail.ReadWrite.Shared (or Mail.Read.Shared to read) for another user's mailbox. */
  | { kind: "user"; email: string; scopes?: string[] }
  | { kind: "app"; appId: string; roles: string[] };

export type GraphFake = {
  /** e.g. http://127.0.0.1:PORT/v1.0 (no trailing slash), as GRAPH_API_BASE_URL. */
  baseUrl: string;
  defaultUser: string;
  inboxId: string;
  addMessage(user: string, raw: Buffer | string, opts?: { folder?: string; isRead?: boolean; receivedDateTime?: Date; subject?: string }): { id: string };
  messages(user?: string): GraphFakeMessage[];
  setRead(user: string, id: string, isRead: boolean): void;
  moveMessage(user: string, id: string, folder: string): void;
  /** A folder's id by id or well-known name ("inbox", "archive"), as a move's destinationId resolves it. */
  folderId(user: string, folder: string): string;
  deleteMessage(user: string, id: string): void;
  setValidTokens(tokens: string[], user?: string): void;
  /** Tokens the static list does not know are asked here (e.g. the local OAuth server's JWTs). */
  setTokenResolver(resolve: ((token: string) => Promise<GraphFakePrincipal | null>) | null): void;
  /** `delegate` may open `mailbox` (Exchange Full Access); revoke removes that right. */
  grantMailboxAccess(delegate: string, mailbox: string): void;
  revokeMailboxAccess(delegate: string, mailbox: string): void;
  /** Application access policy: the app may reach only these mailboxes (null = no policy). */
  setAppAccessPolicy(appId: string, mailboxes: string[] | null): void;
  injectFault(fault: GraphFault): void;
  /** Invalidates every delta token issued so far. */
  expireDeltaTokens(opts?: { status?: 410 | 400; code?: string }): void;
  subscriptions(): GraphFakeSubscription[];
  /**
   * Sends a lifecycle notification as Graph does (to lifecycleNotificationUrl, with the
   * subscription's clientState). "subscriptionRemoved" also deletes the subscription first, and
   * "reauthorizationRequired" leaves it working until renewed. Resolves with the HTTP status.
   */
  sendLifecycleEvent(subscriptionId: string, event: "reauthorizationRequired" | "subscriptionRemoved" | "missed"): Promise<number>;
  requests: GraphFakeRequest[];
  close(): Promise<void>;
};

type StoredMessage = GraphFakeMessage & { createdSeq: number; seq: number; changeKey: string };
type Tombstone = { id: string; folderId: string; seq: number };
type UserState = {
  email: string;
  userId: string;
  folders: Map<string, { id: string; displayName: string; wellKnown: string }>;
  messages: Map<string, StoredMessage>;
  tombstones: Tombstone[];
};
type TokenState = { kind: "delta" | "skip"; user: string; folderId: string; gen: number; since: number; snap: number; offset: number; select: string[]; filter: string | null };

const WELL_KNOWN = [
  ["inbox", "Inbox"],
  ["archive", "Archive"],
  ["deleteditems", "Deleted Items"],
  ["junkemail", "Junk Email"],
  ["sentitems", "Sent Items"],
  ["drafts", "Drafts"],
] as const;
const MESSAGE_PROPS = ["id", "receivedDateTime", "isRead", "subject", "parentFolderId", "changeKey", "createdDateTime", "lastModifiedDateTime", "internetMessageHeaders"];

/** The one $expand the fake knows: PidTagMessageSize. Anything else is Graph's 400. */
function parseExpand(raw: string | null): boolean {
  if (!raw) return false;
  if (/^singleValueExtendedProperties\(\$filter=id eq 'Integer 0x0*E08'\)$/i.test(raw.trim())) return true;
  throw badRequest(`Unsupported $expand in fake: ${raw}`);
}

class GraphHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const badRequest = (message: string, code = "BadRequest"): GraphHttpError => new GraphHttpError(400, code, message);
const itemNotFound = (): GraphHttpError => new GraphHttpError(404, "ErrorItemNotFound", "The specified object was not found in the store.");

function errorBody(err: GraphHttpError): Record<string, unknown> {
  const requestId = randomUUID();
  return {
    error: { code: err.code, message: err.message, innerError: { date: new Date().toISOString().slice(0, 19), "request-id": requestId, "client-request-id": requestId } },
  };
}

function unauthenticated(): GraphHttpError {
  return new GraphHttpError(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.", {
    "www-authenticate":
      'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"',
  });
}

function faultError(fault: GraphFault): GraphHttpError {
  const headers: Record<string, string> = fault.retryAfter !== undefined ? { "retry-after": fault.retryAfter } : {};
  switch (fault.kind) {
    case "throttle_429":
      return new GraphHttpError(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.", headers);
    case "unavailable_503":
      return new GraphHttpError(503, "ServiceUnavailable", "Service Unavailable", headers);
    case "gateway_timeout_504":
      return new GraphHttpError(504, "UnknownError", "", headers);
    case "unauthorized_401":
      return unauthenticated();
    case "access_denied_403":
      return new GraphHttpError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.");
    case "connection_reset":
      throw new Error("connection_reset is handled before dispatch");
  }
}

const encodeToken = (t: TokenState): string => Buffer.from(JSON.stringify(t)).toString("base64url");
function decodeToken(token: string): TokenState | null {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    return parsed && typeof parsed === "object" ? (parsed as TokenState) : null;
  } catch {
    return null;
  }
}

function parseJson(body: Buffer | unknown): Record<string, unknown> {
  let value: unknown = body;
  if (Buffer.isBuffer(body)) {
    try {
      value = body.length ? JSON.parse(body.toString("utf8")) : {};
    } catch {
      throw badRequest("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.");
    }
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw badRequest("Invalid request body.");
  return value as Record<string, unknown>;
}

/** `Prefer` may repeat and hold comma-separated preferences (RFC 7240). */
function maxPageSize(headers: Record<string, string | string[] | undefined>): number | null {
  const raw = headers.prefer;
  const all = (Array.isArray(raw) ? raw : raw ? [raw] : []).flatMap((h) => h.split(","));
  for (const pref of all) {
    const m = /^\s*odata\.maxpagesize\s*=\s*(\d+)\s*$/i.exec(pref);
    if (m?.[1]) return Math.max(1, Number(m[1]));
  }
  return null;
}

type Clause = { prop: "isRead" | "receivedDateTime"; op: string; value: boolean | number };
function parseFilter(filter: string | null): Clause[] {
  if (!filter) return [];
  return filter.split(/\s+and\s+/i).map((part) => {
    const m = /^\s*(isRead|receivedDateTime)\s+(eq|ne|ge|gt|le|lt)\s+(.+?)\s*$/i.exec(part);
    if (!m?.[1] || !m[2] || !m[3]) throw badRequest(`Invalid filter clause: ${part}`, "ErrorInvalidUrlQueryFilter");
    const prop = m[1].toLowerCase() === "isread" ? "isRead" : "receivedDateTime";
    if (prop === "isRead") {
      if (!["true", "false"].includes(m[3]) || !["eq", "ne"].includes(m[2])) throw badRequest(`Invalid filter clause: ${part}`, "ErrorInvalidUrlQueryFilter");
      return { prop, op: m[2], value: m[3] === "true" };
    }
    const at = Date.parse(m[3]);
    if (Number.isNaN(at)) throw badRequest(`Invalid filter clause: ${part}`, "ErrorInvalidUrlQueryFilter");
    return { prop, op: m[2].toLowerCase(), value: at };
  });
}

function matches(m: StoredMessage, clauses: Clause[]): boolean {
  return clauses.every((c) => {
    const v = c.prop === "isRead" ? m.isRead : Date.parse(m.receivedDateTime);
    switch (c.op) {
      case "eq":
        return v === c.value;
      case "ne":
        return v !== c.value;
      case "ge":
        return (v as number) >= (c.value as number);
      case "gt":
        return (v as number) > (c.value as number);
      case "le":
        return (v as number) <= (c.value as number);
      default:
        return (v as number) < (c.value as number);
    }
  });
}

export async function startGraphFake(
  opts: { user?: string; tokens?: string[]; tokenResolver?: (token: string) => Promise<GraphFakePrincipal | null> } = {},
): Promise<GraphFake> {
  const defaultUser = opts.user ?? "user@contoso.example";
  const users = new Map<string, UserState>();
  const tokens = new Map<string, string>();
  const faults: (GraphFault & { remaining: number })[] = [];
  const requests: GraphFakeRequest[] = [];
  const subscriptions = new Map<string, GraphFakeSubscription>();
  let seq = 1000;
  let generation = 1;
  let expiredAs: { status: 410 | 400; code: string } = { status: 410, code: "SyncStateNotFound" };
  let base = "";
  let tokenResolver = opts.tokenResolver ?? null;
  const delegations = new Map<string, Set<string>>();
  const appPolicies = new Map<string, Set<string>>();

  const newId = (prefix: string): string => `${prefix}${randomBytes(33).toString("base64url")}AAA=`;

  function user(email: string): UserState {
    let state = users.get(email);
    if (!state) {
      state = { email, userId: randomUUID(), folders: new Map(), messages: new Map(), tombstones: [] };
      for (const [wellKnown, displayName] of WELL_KNOWN) {
        const id = newId("AQMkAD");
        state.folders.set(id, { id, displayName, wellKnown });
      }
      users.set(email, state);
    }
    return state;
  }
  for (const token of opts.tokens ?? ["test-token"]) tokens.set(token, defaultUser);
  user(defaultUser);

  function folderOf(state: UserState, ref: string): { id: string; displayName: string; wellKnown: string } {
    const key = ref.replace(/^\('?|'?\)$/g, "");
    for (const f of state.folders.values()) if (f.id === key || f.wellKnown === key.toLowerCase()) return f;
    throw itemNotFound();
  }

  function messageJson(state: UserState, m: StoredMessage, select: string[] | null, expandSize = false): Record<string, unknown> {
    const full: Record<string, unknown> = {
      "@odata.etag": `W/"${m.changeKey}"`,
      id: m.id,
      createdDateTime: m.receivedDateTime,
      lastModifiedDateTime: new Date().toISOString(),
      changeKey: m.changeKey,
      receivedDateTime: m.receivedDateTime,
      subject: m.subject,
      isRead: m.isRead,
      parentFolderId: m.folderId,
    };
    const sizeProp = expandSize ? { singleValueExtendedProperties: [{ id: "Integer 0xe08", value: String(m.raw.length) }] } : {};
    // internetMessageHeaders only when selected, as on Graph.
    if (!select) return { ...full, ...sizeProp };
    const out: Record<string, unknown> = { "@odata.etag": full["@odata.etag"], id: m.id };
    for (const p of select) if (p in full) out[p] = full[p];
    if (select.includes("internetMessageHeaders")) out.internetMessageHeaders = parseHeaderBlock(m.raw);
    return { ...out, ...sizeProp };
  }

  function touch(state: UserState, m: StoredMessage): void {
    m.seq = ++seq;
    m.changeKey = randomBytes(12).toString("base64");
  }

  function parseSelect(raw: string | null): string[] | null {
    if (!raw) return null;
    const props = raw.split(",").map((p) => p.trim()).filter(Boolean);
    for (const p of props) if (!MESSAGE_PROPS.includes(p)) throw badRequest(`Could not find a property named '${p}' on type 'microsoft.graph.message'.`, "RequestBroker--ParseUri");
    return props;
  }

  function takeFault(path: string, inBatch: boolean): GraphFault | null {
    const index = faults.findIndex(
      (f) => f.remaining > 0 && (!f.path || path.includes(f.path)) && (f.inBatch === true) === inBatch,
    );
    if (index < 0) return null;
    const fault = faults[index]!;
    fault.remaining -= 1;
    if (fault.remaining <= 0) faults.splice(index, 1);
    return fault;
  }

  async function authenticate(header: string | undefined): Promise<GraphFakePrincipal> {
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
    const token = match?.[1];
    if (!token) throw unauthenticated();
    const email = tokens.get(token);
    if (email) return { kind: "user", email };
    const resolved = tokenResolver ? await tokenResolver(token) : null;
    if (!resolved) throw unauthenticated();
    return resolved;
  }

  const principalKey = (p: GraphFakePrincipal): string => (p.kind === "user" ? p.email.toLowerCase() : `app:${p.appId}`);
  const accessDenied = (): GraphHttpError => new GraphHttpError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.");

  /** The mailbox a principal may open, or Graph's refusal. */
  function mailboxFor(principal: GraphFakePrincipal, address: string, method: string): UserState {
    const target = address.toLowerCase();
    if (principal.kind === "user") {
      if (target === principal.email.toLowerCase()) return user(principal.email);
      if (!delegations.get(principal.email.toLowerCase())?.has(target)) throw accessDenied();
      const shared = method === "GET" ? ["Mail.Read.Shared", "Mail.ReadWrite.Shared"] : ["Mail.ReadWrite.Shared"];
      if (principal.scopes && !principal.scopes.some((x) => shared.includes(x))) throw accessDenied();
    } else {
      const needed = method === "GET" ? ["Mail.Read", "Mail.ReadWrite"] : ["Mail.ReadWrite"];
      if (!principal.roles.some((r) => needed.includes(r))) throw accessDenied();
      const policy = appPolicies.get(principal.appId);
      if (policy && !policy.has(target)) {
        throw new GraphHttpError(403, "ErrorAccessDenied", "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.");
      }
    }
    const known = [...users.values()].find((u) => u.email.toLowerCase() === target);
    if (!known) throw new GraphHttpError(404, "ErrorInvalidUser", `The requested user '${address}' is invalid.`);
    return known;
  }

  /** `/users/{id}/rest` → that mailbox and `/me/rest`; `/me` needs a delegated token. */
  function resolvePath(principal: GraphFakePrincipal, method: string, path: string): { state: UserState | null; path: string; prefix: string } {
    const m = /^\/users\/([^/]+)(\/.*)?$/i.exec(path);
    if (m) {
      const address = decodeURIComponent(m[1]!);
      return { state: mailboxFor(principal, address, method), path: `/me${m[2] ?? ""}`, prefix: `/users/${m[1]}` };
    }
    if (path === "/me" || path.startsWith("/me/")) {
      if (principal.kind === "app") throw badRequest("/me request is only valid with delegated authentication flow.");
      return { state: user(principal.email), path, prefix: "/me" };
    }
    return { state: principal.kind === "user" ? user(principal.email) : null, path, prefix: "/me" };
  }

  /** Links the routes build for /me point at the mailbox the request named. */
  function relink(result: RouteResult, prefix: string): RouteResult {
    if (prefix === "/me" || !result.json || typeof result.json !== "object") return result;
    const json = result.json as Record<string, unknown>;
    for (const key of ["@odata.nextLink", "@odata.deltaLink"]) {
      const v = json[key];
      if (typeof v === "string" && v.startsWith(`${base}/me/`)) json[key] = `${base}${prefix}/${v.slice(`${base}/me/`.length)}`;
    }
    return result;
  }

  async function dispatch(
    principal: GraphFakePrincipal,
    method: string,
    rawPath: string,
    params: URLSearchParams,
    headers: Record<string, string | string[] | undefined>,
    body: () => Promise<Record<string, unknown>>,
  ): Promise<RouteResult> {
    if (rawPath === "/subscriptions" && method === "POST") {
      const b = await body();
      const resource = typeof b.resource === "string" ? b.resource : "";
      const rm = /^\/?users\/([^/]+)\//i.exec(resource);
      let state: UserState;
      if (rm) {
        const address = decodeURIComponent(rm[1]!);
        state = mailboxFor(principal, address, "GET");
        if (principal.kind === "user" && address.toLowerCase() !== principal.email.toLowerCase()) {
          throw new GraphHttpError(403, "ExtensionError", "Operation: Create; Exception: [Status Code: Forbidden; Reason: Access is denied. Check credentials and try again.]");
        }
      } else {
        if (principal.kind === "app") throw badRequest("/me request is only valid with delegated authentication flow.");
        state = user(principal.email);
      }
      return { status: 201, json: await createSubscription(state, b, principalKey(principal)) };
    }
    const sm = /^\/subscriptions\/([^/]+)$/.exec(rawPath);
    if (sm) {
      const sub = subscriptions.get(sm[1]!);
      if (!sub || sub.creator !== principalKey(principal)) throw new GraphHttpError(404, "ResourceNotFound", `The object was not found.`);
      return route(user(sub.user), method, rawPath, params, headers, body);
    }
    const { state, path, prefix } = resolvePath(principal, method, rawPath);
    if (!state) throw badRequest(`Resource not found for the segment '${rawPath.split("/").filter(Boolean).at(-1) ?? ""}'.`);
    return relink(await route(state, method, path, params, headers, body), prefix);
  }

  function deltaPage(state: UserState, folderId: string, t: TokenState, pageSize: number): Record<string, unknown> {
    const clauses = parseFilter(t.filter);
    const select = t.select.length ? t.select : null;
    let items: Record<string, unknown>[];
    if (t.since === 0) {
      // Initial round: the folder's current content.
      items = [...state.messages.values()]
        .filter((m) => m.folderId === folderId && matches(m, clauses))
        .sort((a, b) => a.createdSeq - b.createdSeq)
        .map((m) => messageJson(state, m, select));
    } else {
      const changed = [...state.messages.values()]
        .filter((m) => m.folderId === folderId && m.seq > t.since && m.seq <= t.snap && matches(m, clauses))
        .map((m) => ({ seq: m.seq, json: messageJson(state, m, select) }));
      const removed = state.tombstones
        .filter((x) => x.folderId === folderId && x.seq > t.since && x.seq <= t.snap)
        .filter((x) => state.messages.get(x.id)?.folderId !== folderId)
        .map((x) => ({ seq: x.seq, json: { "@odata.type": "#microsoft.graph.message", id: x.id, "@removed": { reason: "deleted" } } }));
      items = [...changed, ...removed].sort((a, b) => a.seq - b.seq).map((x) => x.json);
    }
    const page = items.slice(t.offset, t.offset + pageSize);
    const link = `${base}/me/mailFolders('${folderId}')/messages/delta`;
    const body: Record<string, unknown> = {
      "@odata.context": `${base}/$metadata#Collection(message)`,
      value: page,
    };
    if (t.offset + pageSize < items.length) {
      body["@odata.nextLink"] = `${link}?$skiptoken=${encodeToken({ ...t, kind: "skip", offset: t.offset + pageSize })}`;
    } else {
      body["@odata.deltaLink"] = `${link}?$deltatoken=${encodeToken({ ...t, kind: "delta", since: t.snap, snap: 0, offset: 0 })}`;
    }
    return body;
  }

  function notifySubscribers(state: UserState, m: StoredMessage): void {
    for (const sub of subscriptions.values()) {
      if (sub.user !== state.email || !sub.changeType.split(",").includes("created")) continue;
      if (sub.folderId !== null && sub.folderId !== m.folderId) continue;
      const resource = `Users/${state.userId}/Messages/${m.id}`;
      const notification: Record<string, unknown> = {
        subscriptionId: sub.id,
        subscriptionExpirationDateTime: sub.expirationDateTime,
        changeType: "created",
        resource,
        resourceData: { "@odata.type": "#Microsoft.Graph.Message", "@odata.id": resource, "@odata.etag": `W/"${m.changeKey}"`, id: m.id },
        tenantId: "00000000-0000-0000-0000-000000000001",
      };
      if (sub.clientState !== undefined) notification.clientState = sub.clientState;
      fetch(sub.notificationUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ value: [notification] }) }).catch(
        () => undefined,
      );
    }
  }

  async function createSubscription(state: UserState, body: Record<string, unknown>, creator: string): Promise<Record<string, unknown>> {
    const { changeType, notificationUrl, resource, expirationDateTime, clientState, lifecycleNotificationUrl } = body;
    if (typeof changeType !== "string" || typeof notificationUrl !== "string" || typeof resource !== "string" || typeof expirationDateTime !== "string") {
      throw badRequest("Subscription must have changeType, notificationUrl, resource and expirationDateTime.", "InvalidRequest");
    }
    if (clientState !== undefined && (typeof clientState !== "string" || clientState.length > 128)) {
      throw badRequest("clientState must be a string of at most 128 characters.", "InvalidRequest");
    }
    const expires = Date.parse(expirationDateTime);
    // Outlook message subscriptions live at most 10,080 minutes.
    if (Number.isNaN(expires) || expires <= Date.now() || expires > Date.now() + 10_080 * 60_000) {
      throw badRequest("Subscription expiration can only be 10070 minutes in the future.", "ExtensionError");
    }
    const m = /^\/?(?:me|users\/[^/]+)\/(?:mailFolders(?:\('([^']+)'\)|\/([^/]+))\/)?messages$/i.exec(resource);
    if (!m) throw badRequest(`Resource '${resource}' is not supported.`, "ExtensionError");
    const folderRef = m[1] ?? m[2];
    const folderId = folderRef ? folderOf(state, folderRef).id : null;
    if (lifecycleNotificationUrl !== undefined && typeof lifecycleNotificationUrl !== "string") {
      throw badRequest("lifecycleNotificationUrl must be a string.", "InvalidRequest");
    }
    // The validation handshake Graph performs before creating a subscription, for each URL.
    for (const url of new Set([notificationUrl, ...(lifecycleNotificationUrl ? [lifecycleNotificationUrl] : [])])) {
      if (!(await validateEndpoint(url))) {
        throw badRequest(
          "Subscription validation request failed. Response must exactly match validationToken query parameter.",
          "InvalidRequest",
        );
      }
    }
    const sub: GraphFakeSubscription = {
      id: randomUUID(),
      resource,
      changeType,
      notificationUrl,
      expirationDateTime: new Date(expires).toISOString(),
      folderId,
      user: state.email,
      creator,
    };
    if (typeof clientState === "string") sub.clientState = clientState;
    if (typeof lifecycleNotificationUrl === "string") sub.lifecycleNotificationUrl = lifecycleNotificationUrl;
    subscriptions.set(sub.id, sub);
    return subscriptionJson(sub);
  }

  async function validateEndpoint(url: string): Promise<boolean> {
    const validationToken = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
    try {
      const res = await fetch(`${url}${url.includes("?") ? "&" : "?"}validationToken=${encodeURIComponent(validationToken)}`, {
        method: "POST",
        headers: { "content-type": "text/plain; charset=utf-8" },
        signal: AbortSignal.timeout(10_000),
      });
      return res.status === 200 && (await res.text()) === validationToken;
    } catch {
      return false;
    }
  }

  function subscriptionJson(sub: GraphFakeSubscription): Record<string, unknown> {
    return {
      "@odata.context": `${base}/$metadata#subscriptions/$entity`,
      id: sub.id,
      resource: sub.resource,
      applicationId: "00000000-0000-0000-0000-0000000000aa",
      changeType: sub.changeType,
      clientState: sub.clientState ?? null,
      notificationUrl: sub.notificationUrl,
      lifecycleNotificationUrl: sub.lifecycleNotificationUrl ?? null,
      expirationDateTime: sub.expirationDateTime,
      creatorId: "00000000-0000-0000-0000-0000000000bb",
      latestSupportedTlsVersion: "v1_2",
    };
  }

  type RouteResult = { status: number; json?: unknown; bytes?: Buffer; headers?: Record<string, string> };

  /** Routes one request (top level or a $batch item). `path` excludes the /v1.0 prefix. */
  async function route(
    state: UserState,
    method: string,
    path: string,
    params: URLSearchParams,
    headers: Record<string, string | string[] | undefined>,
    body: () => Promise<Record<string, unknown>>,
  ): Promise<RouteResult> {
    let m: RegExpExecArray | null;
    if (method === "GET" && path === "/me") {
      return {
        status: 200,
        json: { "@odata.context": `${base}/$metadata#users/$entity`, id: state.userId, displayName: "Test User", mail: state.email, userPrincipalName: state.email },
      };
    }
    if ((m = /^\/me\/mailFolders(?:\/([^/()]+)|(\('[^']*'\)))(\/.*)?$/i.exec(path))) {
      const folder = folderOf(state, decodeURIComponent(m[1] ?? m[2] ?? ""));
      const rest = m[3] ?? "";
      if (method === "GET" && rest === "") {
        const inFolder = [...state.messages.values()].filter((x) => x.folderId === folder.id);
        const full: Record<string, unknown> = {
          id: folder.id,
          displayName: folder.displayName,
          parentFolderId: newId("AQMkAD").slice(0, 20),
          childFolderCount: 0,
          unreadItemCount: inFolder.filter((x) => !x.isRead).length,
          totalItemCount: inFolder.length,
          isHidden: false,
        };
        const select = params.get("$select")?.split(",").map((s) => s.trim());
        const out: Record<string, unknown> = { "@odata.context": `${base}/$metadata#users('${state.email}')/mailFolders/$entity` };
        for (const [k, v] of Object.entries(full)) if (!select || k === "id" || select.includes(k)) out[k] = v;
        return { status: 200, json: out };
      }
      if (method === "GET" && rest === "/messages") return listMessages(state, folder.id, params, `/me/mailFolders/${folder.id}/messages`);
      if (method === "GET" && rest === "/messages/delta") {
        const deltaToken = params.get("$deltatoken");
        const skipToken = params.get("$skiptoken");
        const pageSize = maxPageSize(headers) ?? 10;
        const headersOut = maxPageSize(headers) ? { "preference-applied": `odata.maxpagesize=${pageSize}` } : undefined;
        let t: TokenState;
        if (deltaToken || skipToken) {
          const decoded = decodeToken((deltaToken ?? skipToken)!);
          if (!decoded || decoded.user !== state.email || decoded.folderId !== folder.id) throw badRequest("The sync state is invalid.", "SyncStateInvalid");
          if (decoded.gen !== generation) {
            throw new GraphHttpError(expiredAs.status, expiredAs.code, "The sync state is not found or has expired. Please resync.");
          }
          t = decoded.kind === "delta" ? { ...decoded, snap: seq, offset: 0 } : decoded;
        } else {
          const filter = params.get("$filter");
          const clauses = parseFilter(filter);
          if (clauses.some((c) => c.prop !== "receivedDateTime" || !["ge", "gt"].includes(c.op))) {
            throw badRequest("The only supported filter for delta is receivedDateTime ge|gt.", "ErrorInvalidUrlQueryFilter");
          }
          const select = parseSelect(params.get("$select")) ?? [];
          t = { kind: "skip", user: state.email, folderId: folder.id, gen: generation, since: 0, snap: seq, offset: 0, select, filter };
        }
        const result: RouteResult = { status: 200, json: deltaPage(state, folder.id, t, pageSize) };
        if (headersOut) result.headers = headersOut;
        return result;
      }
      throw badRequest(`Resource not found for the segment '${rest.split("/")[1] ?? ""}'.`);
    }
    if ((m = /^\/me\/messages\/([^/]+)\/move$/.exec(path)) && method === "POST") {
      const msg = state.messages.get(decodeURIComponent(m[1]!));
      if (!msg) throw itemNotFound();
      const patch = await body();
      if (typeof patch.destinationId !== "string") throw badRequest("destinationId is required.");
      const target = folderOf(state, patch.destinationId);
      if (target.id !== msg.folderId) {
        state.tombstones.push({ id: msg.id, folderId: msg.folderId, seq: ++seq });
        msg.folderId = target.id;
        touch(state, msg);
      }
      return { status: 201, json: messageJson(state, msg, null) };
    }
    if ((m = /^\/me\/messages\/([^/]+)(\/\$value)?$/.exec(path))) {
      const msg = state.messages.get(decodeURIComponent(m[1]!));
      if (!msg) throw itemNotFound();
      if (method === "GET" && m[2]) return { status: 200, bytes: msg.raw, headers: { "content-type": "text/plain" } };
      if (method === "GET") return { status: 200, json: messageJson(state, msg, parseSelect(params.get("$select")), parseExpand(params.get("$expand"))) };
      if (method === "PATCH") {
        const patch = await body();
        for (const key of Object.keys(patch)) if (key !== "isRead") throw badRequest(`Property '${key}' is not writable in this fake.`);
        if (typeof patch.isRead !== "boolean") throw badRequest("isRead must be a boolean.");
        if (msg.isRead !== patch.isRead) {
          msg.isRead = patch.isRead;
          touch(state, msg);
        }
        return { status: 200, json: messageJson(state, msg, null) };
      }
    }
    if ((m = /^\/subscriptions\/([^/]+)$/.exec(path))) {
      const sub = subscriptions.get(m[1]!);
      if (!sub || sub.user !== state.email) throw new GraphHttpError(404, "ResourceNotFound", `The object was not found.`); // creator checked in dispatch
      if (method === "GET") return { status: 200, json: subscriptionJson(sub) };
      if (method === "DELETE") {
        subscriptions.delete(sub.id);
        return { status: 204 };
      }
      if (method === "PATCH") {
        const patch = await body();
        const expires = typeof patch.expirationDateTime === "string" ? Date.parse(patch.expirationDateTime) : NaN;
        if (Number.isNaN(expires) || expires <= Date.now() || expires > Date.now() + 10_080 * 60_000) {
          throw badRequest("Subscription expiration can only be 10070 minutes in the future.", "ExtensionError");
        }
        sub.expirationDateTime = new Date(expires).toISOString();
        return { status: 200, json: subscriptionJson(sub) };
      }
    }
    throw badRequest(`Resource not found for the segment '${path.split("/").filter(Boolean).at(-1) ?? ""}'.`);
  }

  function listMessages(state: UserState, folderId: string, params: URLSearchParams, linkPath: string): RouteResult {
    const filter = params.get("$filter");
    const orderby = params.get("$orderby");
    const clauses = parseFilter(filter);
    let order: { prop: "receivedDateTime" | "isRead"; desc: boolean } | null = null;
    if (orderby) {
      const om = /^\s*(receivedDateTime|isRead)(?:\s+(asc|desc))?\s*$/i.exec(orderby);
      if (!om?.[1]) throw badRequest(`Invalid $orderby: ${orderby}`);
      order = { prop: om[1].toLowerCase() === "isread" ? "isRead" : "receivedDateTime", desc: om[2]?.toLowerCase() === "desc" };
      // Exchange's documented rule for $filter with $orderby.
      if (clauses.length > 0 && clauses[0]?.prop !== order.prop) {
        throw badRequest("The restriction or sort order is too complex for this operation.", "InefficientFilter");
      }
    }
    const top = Math.min(Number(params.get("$top") ?? 10) || 10, 1000);
    const skip = Number(params.get("$skip") ?? 0) || 0;
    const select = parseSelect(params.get("$select"));
    const all = [...state.messages.values()].filter((m) => m.folderId === folderId && matches(m, clauses));
    // Graph's default order for messages is receivedDateTime desc.
    const sortProp = order?.prop ?? "receivedDateTime";
    const desc = order ? order.desc : true;
    all.sort((a, b) => {
      const av = sortProp === "isRead" ? Number(a.isRead) : Date.parse(a.receivedDateTime);
      const bv = sortProp === "isRead" ? Number(b.isRead) : Date.parse(b.receivedDateTime);
      return (desc ? bv - av : av - bv) || a.createdSeq - b.createdSeq;
    });
    const page = all.slice(skip, skip + top);
    const json: Record<string, unknown> = {
      "@odata.context": `${base}/$metadata#users('${state.email}')/mailFolders('${folderId}')/messages`,
      value: page.map((m) => messageJson(state, m, select, parseExpand(params.get("$expand")))),
    };
    if (skip + top < all.length) {
      const next = new URLSearchParams();
      for (const [k, v] of params) if (k !== "$skip") next.set(k, v);
      next.set("$skip", String(skip + top));
      json["@odata.nextLink"] = `${base}${linkPath}?${next.toString()}`;
    }
    return { status: 200, json };
  }

  async function handleBatch(principal: GraphFakePrincipal, body: Record<string, unknown>): Promise<RouteResult> {
    const items = body.requests;
    if (!Array.isArray(items)) throw badRequest("Invalid batch payload.");
    if (items.length > 20) throw badRequest("Number of batch requests exceeds the limit of 20.");
    const responses: Record<string, unknown>[] = [];
    for (const item of items as Record<string, unknown>[]) {
      const id = typeof item.id === "string" ? item.id : "";
      const method = typeof item.method === "string" ? item.method.toUpperCase() : "GET";
      const rawUrl = typeof item.url === "string" ? item.url : "";
      const url = new URL(rawUrl.startsWith("/") ? rawUrl : `/${rawUrl}`, "http://batch.invalid");
      const sub: GraphFakeRequest = { method, path: url.pathname, query: url.search, status: 0, batchItem: true };
      requests.push(sub);
      let result: RouteResult;
      try {
        const fault = takeFault(url.pathname, true);
        if (fault && fault.kind !== "connection_reset") throw faultError(fault);
        const itemHeaders: Record<string, string> = {};
        if (item.headers && typeof item.headers === "object") {
          for (const [k, v] of Object.entries(item.headers as Record<string, unknown>)) if (typeof v === "string") itemHeaders[k.toLowerCase()] = v;
        }
        if (item.body !== undefined && !itemHeaders["content-type"]) {
          throw badRequest("Content-Type header is required for a request with a body.");
        }
        result = await dispatch(principal, method, url.pathname, url.searchParams, itemHeaders, async () => parseJson(item.body));
      } catch (err) {
        const e = err instanceof GraphHttpError ? err : new GraphHttpError(500, "InternalServerError", String(err));
        result = { status: e.status, json: errorBody(e), headers: e.headers };
      }
      sub.status = result.status;
      const entry: Record<string, unknown> = { id, status: result.status, headers: { ...(result.headers ?? {}), ...(result.json ? { "Content-Type": "application/json" } : {}) } };
      if (result.json !== undefined) entry.body = result.json;
      else if (result.bytes) entry.body = result.bytes.toString("base64");
      responses.push(entry);
    }
    return { status: 200, json: { responses: responses.reverse() } };
  }

  const server = http.createServer((req, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const entry: GraphFakeRequest = { method: req.method ?? "GET", path: url.pathname, query: url.search, status: 0 };
    requests.push(entry);
    const send = (result: RouteResult): void => {
      entry.status = result.status;
      const headers: Record<string, string> = { "request-id": randomUUID(), ...(result.headers ?? {}) };
      if (result.json !== undefined) {
        headers["content-type"] = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
        res.writeHead(result.status, headers);
        res.end(JSON.stringify(result.json));
      } else {
        res.writeHead(result.status, headers);
        res.end(result.bytes);
      }
    };
    void (async () => {
      try {
        if (!url.pathname.startsWith("/v1.0/")) throw badRequest("Invalid version.");
        const path = url.pathname.slice("/v1.0".length);
        const fault = takeFault(url.pathname, false);
        if (fault?.kind === "connection_reset") {
          entry.status = -1;
          req.socket.destroy();
          return;
        }
        if (fault) throw faultError(fault);
        const principal = await authenticate(req.headers.authorization);
        const method = req.method ?? "GET";
        let bodyCache: Record<string, unknown> | undefined;
        const body = async (): Promise<Record<string, unknown>> => (bodyCache ??= parseJson(await readBody(req)));
        if (path === "/$batch" && method === "POST") send(await handleBatch(principal, await body()));
        else send(await dispatch(principal, method, path, url.searchParams, req.headers, body));
      } catch (err) {
        const e = err instanceof GraphHttpError ? err : new GraphHttpError(500, "InternalServerError", String(err));
        send({ status: e.status, json: errorBody(e), headers: e.headers });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}/v1.0`;
  const inbox = [...user(defaultUser).folders.values()].find((f) => f.wellKnown === "inbox")!;

  function find(email: string, id: string): StoredMessage {
    const m = user(email).messages.get(id);
    if (!m) throw new Error(`no message ${id}`);
    return m;
  }

  return {
    baseUrl: base,
    defaultUser,
    inboxId: inbox.id,
    addMessage(email, raw, o = {}) {
      const state = user(email);
      const folder = folderOf(state, o.folder ?? "inbox");
      const id = newId("AAMkAG");
      const created = ++seq;
      const m: StoredMessage = {
        id,
        folderId: folder.id,
        isRead: o.isRead ?? false,
        receivedDateTime: (o.receivedDateTime ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z"),
        subject: o.subject ?? "",
        raw: Buffer.isBuffer(raw) ? Buffer.from(raw) : Buffer.from(raw, "utf8"),
        createdSeq: created,
        seq: created,
        changeKey: randomBytes(12).toString("base64"),
      };
      state.messages.set(id, m);
      notifySubscribers(state, m);
      return { id };
    },
    messages(email = defaultUser) {
      return [...user(email).messages.values()].map((m) => ({
        id: m.id,
        folderId: m.folderId,
        isRead: m.isRead,
        receivedDateTime: m.receivedDateTime,
        subject: m.subject,
        raw: Buffer.from(m.raw),
      }));
    },
    setRead(email, id, isRead) {
      const m = find(email, id);
      m.isRead = isRead;
      touch(user(email), m);
    },
    moveMessage(email, id, folder) {
      const state = user(email);
      const m = find(email, id);
      state.tombstones.push({ id, folderId: m.folderId, seq: ++seq });
      m.folderId = folderOf(state, folder).id;
      touch(state, m);
    },
    folderId(email, folder) {
      return folderOf(user(email), folder).id;
    },
    deleteMessage(email, id) {
      const state = user(email);
      const m = find(email, id);
      state.messages.delete(id);
      state.tombstones.push({ id, folderId: m.folderId, seq: ++seq });
    },
    setValidTokens(list, email = defaultUser) {
      for (const [token, owner] of [...tokens]) if (owner === email) tokens.delete(token);
      for (const token of list) tokens.set(token, email);
    },
    setTokenResolver(resolve) {
      tokenResolver = resolve;
    },
    grantMailboxAccess(delegate, mailbox) {
      user(mailbox);
      const set = delegations.get(delegate.toLowerCase()) ?? new Set<string>();
      set.add(mailbox.toLowerCase());
      delegations.set(delegate.toLowerCase(), set);
    },
    revokeMailboxAccess(delegate, mailbox) {
      delegations.get(delegate.toLowerCase())?.delete(mailbox.toLowerCase());
    },
    setAppAccessPolicy(appId, mailboxes) {
      if (mailboxes === null) appPolicies.delete(appId);
      else appPolicies.set(appId, new Set(mailboxes.map((m) => m.toLowerCase())));
    },
    injectFault(fault) {
      faults.push({ ...fault, remaining: fault.count ?? 1 });
    },
    expireDeltaTokens(o = {}) {
      generation++;
      expiredAs = { status: o.status ?? 410, code: o.code ?? "SyncStateNotFound" };
    },
    subscriptions() {
      return [...subscriptions.values()].map((s) => ({ ...s }));
    },
    async sendLifecycleEvent(subscriptionId, event) {
      const sub = subscriptions.get(subscriptionId);
      if (!sub) throw new Error(`no subscription ${subscriptionId}`);
      if (!sub.lifecycleNotificationUrl) throw new Error("the subscription has no lifecycleNotificationUrl");
      if (event === "subscriptionRemoved") subscriptions.delete(sub.id);
      const notification: Record<string, unknown> = {
        subscriptionId: sub.id,
        subscriptionExpirationDateTime: sub.expirationDateTime,
        lifecycleEvent: event,
        resource: sub.resource,
        organizationId: "00000000-0000-0000-0000-000000000001",
      };
      if (sub.clientState !== undefined) notification.clientState = sub.clientState;
      const res = await fetch(sub.lifecycleNotificationUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ value: [notification] }),
      });
      await res.arrayBuffer();
      return res.status;
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
