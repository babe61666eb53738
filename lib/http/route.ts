import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { unstable_rethrow } from "next/navigation";
import { ZodError, type z } from "zod";
import {
  SESSION_COOKIE,
  serializeClearedSessionCookie,
  serializeSessionCookie,
  validateSessionToken,
  type SessionTenant,
  type SessionUser,
} from "@/lib/auth/session";
import { getEnv } from "@/lib/env";
import { AppError, forbidden, unauthorized, validationError, type ErrorBody } from "@/lib/errors";
import { recordHttpRequest, routeLabel, routeTemplate } from "@/lib/http/metrics";
import { PEER_ADDRESS_HEADER } from "@/lib/http/peer-address";
import { API_CONTENT_SECURITY_POLICY, strictTransportSecurity } from "@/lib/http/security-headers";
import { getLogger, type Logger } from "@/lib/logger";

export type RouteAuth = "none" | "session" | "admin" | "internal";

export type RouteSession = { sessionId: string; user: SessionUser; tenant: SessionTenant };

/** What a handler of a "session" or "admin" route gets. tenantId always comes from the session. */
export type RouteContext<P> = {
  req: Request;
  params: P;
  log: Logger;
  session: RouteSession;
  tenantId: string;
};

/** What a handler of a "none" or "internal" route gets: there is no session, so no tenant either. */
export type PublicRouteContext<P> = {
  req: Request;
  params: P;
  log: Logger;
  session?: undefined;
  tenantId?: undefined;
};

// Route segments without dynamic params get `{}` from Next.
type NoParams = Record<string, never>;

export type RouteHandler<P> = (req: Request, segment: { params: Promise<P> }) => Promise<Response>;

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const MAX_JSON_BYTES = 1024 * 1024;

const internalError = (): Response =>
  Response.json({ error: { code: "internal_error", message: "Something went wrong." } } satisfies ErrorBody, {
    status: 500,
  });

/**
 * Not marked `server-only`: that marker throws outside Next's server bundles, which would keep this
 * module out of plain node unit tests. node:crypto and the database keep it off the client anyway.
 */

/**
 * The one wrapper every route handler uses: authentication, the Origin check, a request-scoped
 * logger, and the translation of errors into the API's error shape all live here, so no handler can
 * forget one of them.
 */
export function withRoute<P = NoParams>(
  opts: { auth: "session" | "admin" },
  handler: (ctx: RouteContext<P>) => Promise<Response>,
): RouteHandler<P>;
export function withRoute<P = NoParams>(
  opts: { auth: "none" | "internal" },
  handler: (ctx: PublicRouteContext<P>) => Promise<Response>,
): RouteHandler<P>;
export function withRoute<P = NoParams>(
  opts: { auth: RouteAuth },
  handler: (ctx: never) => Promise<Response>,
): RouteHandler<P> {
  return async (req, segment) => {
    const started = performance.now();
    const reqId = requestIdFrom(req);
    const { pathname } = new URL(req.url);
    let log = getLogger().child({ reqId, route: `${req.method} ${pathname}` });
    let res: Response;
    let errorCode: string | undefined;
    // Until the params are known, ids in the path are collapsed; then the label is the route's template.
    let routeName = routeLabel(pathname);
    try {
      const params = ((await segment?.params) ?? {}) as P;
      routeName = routeTemplate(pathname, params as Record<string, unknown>);
      if (opts.auth === "internal") {
        assertInternalToken(req);
      } else if (STATE_CHANGING.has(req.method)) {
        // Public routes too: a cross-site form must not be able to log a browser into another account.
        assertSameOrigin(req);
      }

      let renewed: { token: string; expiresAt: Date } | undefined;
      let ctx: RouteContext<P> | PublicRouteContext<P> = { req, params, log };
      if (opts.auth === "session" || opts.auth === "admin") {
        const token = readCookie(req, SESSION_COOKIE);
        const session = await validateSessionToken(token);
        if (!session) {
          errorCode = "unauthorized";
          const rejected = unauthorized().toResponse();
          // A stale cookie would otherwise be sent (and rejected) on every request.
          return finish(token ? clearSessionCookie(rejected) : rejected);
        }
        log = log.child({ tenantId: session.tenant.id, userId: session.user.id });
        if (opts.auth === "admin" && session.user.role !== "admin") throw forbidden();
        if (session.renewed && token) renewed = { token, expiresAt: session.expiresAt };
        ctx = {
          req,
          params,
          log,
          session: { sessionId: session.sessionId, user: session.user, tenant: session.tenant },
          tenantId: session.tenant.id,
        };
      }

      // The overloads tie the context's shape to opts.auth; here it is built to match.
      res = await handler(ctx as never);
      if (renewed && !res.headers.has("set-cookie")) {
        res = setSessionCookie(res, renewed.token, renewed.expiresAt);
      }
    } catch (err) {
      // redirect()/notFound() from next/navigation are control flow, not failures.
      unstable_rethrow(err);
      res = errorResponse(err, log);
      errorCode = err instanceof AppError ? err.code : err instanceof ZodError ? "validation_failed" : "internal_error";
    }
    return finish(res);

    function finish(response: Response): Response {
      let out = withHeader(response, "x-request-id", reqId);
      // A handler that renders HTML (the OAuth callback page) brings its own, stricter-for-it policy.
      if (!out.headers.has("content-security-policy")) out = withHeader(out, "content-security-policy", API_CONTENT_SECURITY_POLICY);
      const hsts = strictTransportSecurity(getEnv().APP_URL);
      if (hsts) out = withHeader(out, "strict-transport-security", hsts);
      recordHttpRequest(req.method, routeName, out.status, (performance.now() - started) / 1000);
      const fields = { status: out.status, code: errorCode, ms: Math.round(performance.now() - started) };
      if (out.status >= 500) log.warn(fields, "request failed");
      else if (out.status >= 400) log.info(fields, "request rejected");
      else log.debug(fields, "request handled");
      return out;
    }
  };
}

function errorResponse(err: unknown, log: Logger): Response {
  if (err instanceof ZodError) return validationError(err).toResponse();
  if (err instanceof AppError) {
    if (err.status >= 500) log.error({ err }, "request failed");
    return err.toResponse();
  }
  log.error({ err }, "unhandled error in route handler");
  return internalError();
}

/** A caller-supplied id is kept for tracing across services, but only if it is harmless to log. */
function requestIdFrom(req: Request): string {
  const given = req.headers.get("x-request-id");
  return given && /^[A-Za-z0-9._:-]{1,100}$/.test(given) ? given : randomUUID();
}

/**
 * Browsers always send Origin on cross-site state-changing requests and can't forge it, so a
 * request whose Origin is neither the configured APP_URL nor this server's own host did not come
 * from our pages. Host can't be forged by a page either (a custom header would need a CORS
 * preflight we never grant). A request without Origin is only accepted when it carries no session
 * cookie, i.e. when it can't act for anyone (curl, server-to-server).
 */
function assertSameOrigin(req: Request): void {
  const origin = req.headers.get("origin");
  const badOrigin = new AppError(403, "bad_origin", "This request did not come from this application.");
  if (!origin) {
    if (readCookie(req, SESSION_COOKIE)) throw badOrigin;
    return;
  }
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    throw badOrigin; // includes the opaque "null" origin of sandboxed frames and file: pages
  }
  if (parsed.origin === new URL(getEnv().APP_URL).origin) return;
  const host = req.headers.get("host");
  if (host && parsed.host === host.toLowerCase() && (parsed.protocol === "http:" || parsed.protocol === "https:")) {
    return;
  }
  throw badOrigin;
}

/** Hashing both sides gives equal-length buffers, so the comparison time reveals nothing. */
function assertInternalToken(req: Request): void {
  const header = req.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  const given = createHash("sha256").update(match?.[1] ?? "").digest();
  const expected = createHash("sha256").update(getEnv().INTERNAL_API_TOKEN).digest();
  if (!match || !timingSafeEqual(given, expected)) {
    throw new AppError(401, "unauthorized", "A valid internal API token is required.");
  }
}

export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.get("cookie");
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  }
  return undefined;
}

/**
 * The client's address for rate limiting. With TRUSTED_PROXY_HOPS = 0 (the default) it is the TCP
 * peer: X-Forwarded-For is whatever the client wrote. With N trusted proxies in front, each appends
 * the address it saw, so the entry N places from the end of [...X-Forwarded-For, peer] is the one
 * written by our outermost proxy; everything before it is the client's own claim. Too few entries
 * means a request that bypassed the proxies: its leftmost entry (the closest to the client) counts.
 */
export function getClientAddress(req: Request, trustedHops = getEnv().TRUSTED_PROXY_HOPS): string {
  const peer = req.headers.get(PEER_ADDRESS_HEADER)?.trim() || "unknown";
  if (trustedHops <= 0) return peer;
  const chain = (req.headers.get("x-forwarded-for") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  chain.push(peer);
  return chain[Math.max(0, chain.length - 1 - trustedHops)] ?? peer;
}

/**
 * Reads and validates a JSON body. Malformed JSON is a 400 invalid_json; a body that doesn't match
 * the schema is a 400 validation_failed with per-field messages. An empty body is passed to the
 * schema as undefined, so optional bodies can be declared with `.optional()`.
 */
export async function parseJson<T>(req: Request, schema: z.ZodType<T>, maxBytes = MAX_JSON_BYTES): Promise<T> {
  const text = await readBodyText(req, maxBytes);
  let body: unknown;
  if (text.trim() === "") {
    body = undefined;
    if (!schema.safeParse(undefined).success) {
      throw new AppError(400, "invalid_json", "The request body must be a JSON document.");
    }
  } else {
    try {
      body = JSON.parse(text);
    } catch {
      throw new AppError(400, "invalid_json", "The request body is not valid JSON.");
    }
  }
  const result = schema.safeParse(body);
  if (!result.success) throw validationError(result.error);
  return result.data;
}

/**
 * The body as UTF-8 text, read chunk by chunk and given up as soon as it passes `maxBytes`: a
 * declared Content-Length only helps when there is one, and a chunked upload has none. The rest of
 * the upload is left unread (cancelling would reset the socket before the 413 is sent): TCP flow
 * control stops the sender, and node's HTTP server answers such a request with `Connection:
 * close` and closes it after the 413, so nothing more of it is ever buffered.
 */
export async function readBodyText(req: Request, maxBytes = MAX_JSON_BYTES): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? 0);
  if (declared > maxBytes) throw tooLarge();
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) throw tooLarge();
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks, size).toString("utf8");
}

const tooLarge = (): AppError => new AppError(413, "payload_too_large", "The request body is too large.");

/**
 * Returns the response with the header set. Responses from fetch() have immutable headers, so those
 * are copied; our own Response.json() results are changed in place.
 */
function withHeader(res: Response, name: string, value: string, append = false): Response {
  try {
    if (append) res.headers.append(name, value);
    else res.headers.set(name, value);
    return res;
  } catch {
    const copy = new Response(res.body, res);
    if (append) copy.headers.append(name, value);
    else copy.headers.set(name, value);
    return copy;
  }
}

export function setSessionCookie(res: Response, token: string, expiresAt: Date): Response {
  return withHeader(res, "set-cookie", serializeSessionCookie(token, expiresAt), true);
}

export function clearSessionCookie(res: Response): Response {
  return withHeader(res, "set-cookie", serializeClearedSessionCookie(), true);
}
