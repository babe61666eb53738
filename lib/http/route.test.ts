/**
 * withRoute without a database: everything decided before a session lookup (internal token, Origin,
 * error translation, body parsing). Session and role checks are in tests/integration/auth.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { redirect } from "next/navigation";
import { z } from "zod";
import { AppError } from "@/lib/errors";
import { getClientAddress, parseJson, readCookie, withRoute } from "./route";

const TOKEN = "internal-token-for-tests";
let dataDir: string;

before(() => {
  // getEnv() and getLogger() read these lazily, on the first request below.
  dataDir = mkdtempSync(path.join(tmpdir(), "route-test-"));
  process.env.DATA_DIR = dataDir;
  process.env.INTERNAL_API_TOKEN = TOKEN;
  process.env.APP_URL = "https://app.example.com";
  process.env.LOG_LEVEL = "silent";
});
after(() => rmSync(dataDir, { recursive: true, force: true }));

const noParams = { params: Promise.resolve({}) };
type ErrorJson = { error: { code: string; message: string; details?: { fields?: Record<string, string> } } };

function request(url: string, init: RequestInit & { headers?: Record<string, string> } = {}): Request {
  return new Request(url, init);
}

test("internal routes need the exact bearer token", async () => {
  const handler = withRoute({ auth: "internal" }, async () => new Response(null, { status: 202 }));
  const url = "http://localhost:3000/api/internal/start-watchers";
  assert.equal((await handler(request(url, { method: "POST" }), noParams)).status, 401);
  assert.equal(
    (await handler(request(url, { method: "POST", headers: { authorization: `Bearer ${TOKEN}x` } }), noParams)).status,
    401,
  );
  assert.equal(
    (await handler(request(url, { method: "POST", headers: { authorization: `Basic ${TOKEN}` } }), noParams)).status,
    401,
  );
  // No Origin check for service-to-service calls.
  const ok = await handler(request(url, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } }), noParams);
  assert.equal(ok.status, 202);
  assert.ok(ok.headers.get("x-request-id"));
});

test("state-changing requests need our Origin; GETs and cookie-less requests without Origin pass", async () => {
  const handler = withRoute({ auth: "none" }, async () => Response.json({ ok: true }));
  const url = "http://internal-host:3000/api/thing";
  const post = (headers: Record<string, string>): Promise<Response> =>
    handler(request(url, { method: "POST", headers: { host: "internal-host:3000", ...headers } }), noParams);

  assert.equal((await post({ origin: "https://app.example.com" })).status, 200, "APP_URL origin");
  assert.equal((await post({ origin: "http://internal-host:3000" })).status, 200, "own Host origin");
  assert.equal((await post({})).status, 200, "no Origin and no cookie: cannot act for anyone");

  for (const origin of ["https://evil.example", "null", "https://app.example.com.evil.example", "http://internal-host:3001"]) {
    const res = await post({ origin });
    assert.equal(res.status, 403, origin);
    assert.equal(((await res.json()) as ErrorJson).error.code, "bad_origin");
  }
  const noOriginWithCookie = await post({ cookie: "mb_session=abc" });
  assert.equal(noOriginWithCookie.status, 403);

  const get = await handler(request(url, { headers: { origin: "https://evil.example" } }), noParams);
  assert.equal(get.status, 200);
});

test("session routes answer 401 without a cookie", async () => {
  let called = false;
  const handler = withRoute({ auth: "session" }, async () => {
    called = true;
    return Response.json({});
  });
  const res = await handler(request("http://localhost:3000/api/auth/me"), noParams);
  assert.equal(res.status, 401);
  assert.equal(((await res.json()) as ErrorJson).error.code, "unauthorized");
  assert.equal(called, false);
});

test("errors become the API's error shape; unknown errors leak nothing", async () => {
  const url = "http://localhost:3000/api/x";
  const appError = withRoute({ auth: "none" }, async () => {
    throw new AppError(409, "conflict_here", "Already exists.", { id: "1" });
  });
  const r1 = await appError(request(url), noParams);
  assert.equal(r1.status, 409);
  assert.deepEqual(await r1.json(), { error: { code: "conflict_here", message: "Already exists.", details: { id: "1" } } });

  const zod = withRoute({ auth: "none" }, async () => {
    z.object({ port: z.number() }).parse({ port: "x" });
    return new Response();
  });
  const r2 = await zod(request(url), noParams);
  assert.equal(r2.status, 400);
  const b2 = (await r2.json()) as ErrorJson;
  assert.equal(b2.error.code, "validation_failed");
  assert.ok(b2.error.details?.fields?.port);

  const crash = withRoute({ auth: "none" }, async () => {
    throw new Error("connect ECONNREFUSED postgres://user:secret@db");
  });
  const r3 = await crash(request(url), noParams);
  assert.equal(r3.status, 500);
  const text = await r3.text();
  assert.deepEqual(JSON.parse(text), { error: { code: "internal_error", message: "Something went wrong." } });
  assert.ok(!text.includes("secret"));
});

test("redirect() from a handler is not turned into a 500", async () => {
  const handler = withRoute({ auth: "none" }, async () => redirect("/login"));
  await assert.rejects(handler(request("http://localhost:3000/x"), noParams), (err: unknown) =>
    String((err as { digest?: string }).digest).startsWith("NEXT_REDIRECT"),
  );
});

test("params are resolved for the handler", async () => {
  const handler = withRoute<{ email_type: string }>({ auth: "none" }, async ({ params }) => Response.json(params));
  const res = await handler(request("http://localhost:3000/x"), { params: Promise.resolve({ email_type: "booking" }) });
  assert.deepEqual(await res.json(), { email_type: "booking" });
});

test("parseJson: invalid JSON, empty bodies, schema failures", async () => {
  const schema = z.object({ name: z.string().min(1) });
  const post = (body: string): Request =>
    request("http://localhost:3000/x", { method: "POST", body, headers: { "content-type": "application/json" } });

  assert.deepEqual(await parseJson(post('{"name":"a"}'), schema), { name: "a" });
  await assert.rejects(parseJson(post("{oops"), schema), (e: unknown) => e instanceof AppError && e.code === "invalid_json");
  await assert.rejects(parseJson(post(""), schema), (e: unknown) => e instanceof AppError && e.code === "invalid_json");
  await assert.rejects(
    parseJson(post('{"name":""}'), schema),
    (e: unknown) => e instanceof AppError && e.code === "validation_failed" && e.status === 400,
  );
  // An optional body may be empty.
  assert.equal(await parseJson(post(""), schema.optional()), undefined);
  await assert.rejects(
    parseJson(post(JSON.stringify({ name: "x".repeat(1024 * 1024 + 1) })), schema),
    (e: unknown) => e instanceof AppError && e.status === 413,
  );
});

test("parseJson: a chunked body with no Content-Length is cut off at the limit, unread beyond it", async () => {
  let pulled = 0;
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled += chunk.byteLength;
      controller.enqueue(chunk);
      if (pulled >= 300 * 1024 * 1024) controller.close();
    },
  });
  const req = new Request("http://localhost:3000/x", { method: "POST", body, duplex: "half" } as RequestInit);
  const err = await parseJson(req, z.unknown()).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof AppError && err.status === 413 && err.code === "payload_too_large");
  // Reading stopped right after the limit (the stream's queue may hold a chunk or two more).
  assert.ok(pulled <= 1024 * 1024 + 4 * chunk.byteLength, String(pulled));
});

test("readCookie", () => {
  const req = request("http://localhost:3000/", { headers: { cookie: "a=1; mb_session=tok%2Dx; lang=tr" } });
  assert.equal(readCookie(req, "mb_session"), "tok-x");
  assert.equal(readCookie(req, "lang"), "tr");
  assert.equal(readCookie(req, "missing"), undefined);
});

test("getClientAddress: the TCP peer by default, the entry our outermost trusted proxy wrote otherwise", () => {
  const req = (xff?: string, peer?: string): Request =>
    request("http://localhost:3000/", {
      headers: { ...(xff ? { "x-forwarded-for": xff } : {}), ...(peer ? { "x-mailbox-peer-address": peer } : {}) },
    });
  // No trusted proxy: whatever the client wrote into X-Forwarded-For is ignored.
  assert.equal(getClientAddress(req("203.0.113.9, 10.0.0.2", "198.51.100.4"), 0), "198.51.100.4");
  assert.equal(getClientAddress(req(undefined, "198.51.100.4"), 0), "198.51.100.4");
  assert.equal(getClientAddress(req("203.0.113.9"), 0), "unknown");
  // One proxy (peer 10.0.0.1) appended the address it saw; the client's own entries come before it.
  assert.equal(getClientAddress(req("1.2.3.4, 203.0.113.9", "10.0.0.1"), 1), "203.0.113.9");
  // Two proxies: client -> 10.0.0.5 -> 10.0.0.1 -> us.
  assert.equal(getClientAddress(req("1.2.3.4, 203.0.113.9, 10.0.0.5", "10.0.0.1"), 2), "203.0.113.9");
  // A request that came around the proxies has fewer entries: the leftmost is used.
  assert.equal(getClientAddress(req(undefined, "192.0.2.7"), 1), "192.0.2.7");
  assert.equal(getClientAddress(req("192.0.2.8", "10.0.0.1"), 3), "192.0.2.8");
});
