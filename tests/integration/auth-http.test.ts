/**
 * The auth routes over HTTP. Needs TEST_APP_URL (a running `next start`) and DATABASE_URL (the same
 * database that app uses; users are created directly through the query functions).
 *
 * Each request carries its own X-Forwarded-For so the per-client login limit of one test never
 * spills into another test or another suite running against the same app.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { hashPassword } from "@/lib/auth/password";
import { closeDb } from "@/lib/db/client";
import { createTenantWithAdmin, deactivateTenant } from "@/lib/db/queries/tenants";

const APP_URL = process.env.TEST_APP_URL?.replace(/\/+$/, "");
// A suite that cannot run fails, never skips (project rule).
if (!APP_URL || !process.env.DATABASE_URL) throw new Error("TEST_APP_URL and DATABASE_URL must be set (run it with scripts/run-tests.ts)");
const PASSWORD = "http-test-password";

type Json = Record<string, unknown>;
type ErrorJson = { error: { code: string; message: string; details?: { fields?: Record<string, string> } } };

let passwordHash: string;

function clientIp(): string {
  return `198.51.100.${Math.floor(Math.random() * 250) + 1}, test-${randomUUID()}`;
}

async function call(
  path: string,
  init: { method?: string; body?: unknown; rawBody?: string; cookie?: string; origin?: string | null; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { "x-forwarded-for": clientIp(), ...init.headers };
  if (init.cookie) headers.cookie = init.cookie;
  // Browsers send Origin on every POST; default to ours unless a test says otherwise.
  const method = init.method ?? "GET";
  if (init.origin !== null && method !== "GET") headers.origin = init.origin ?? new URL(APP_URL as string).origin;
  let body: string | undefined;
  if (init.rawBody !== undefined) body = init.rawBody;
  else if (init.body !== undefined) body = JSON.stringify(init.body);
  if (body !== undefined) headers["content-type"] = "application/json";
  return fetch(`${APP_URL}${path}`, { method, headers, body, redirect: "manual" });
}

async function makeAdmin(): Promise<{ email: string; tenantId: string; userId: string }> {
  const email = `http-${randomUUID().slice(0, 8)}@example.test`;
  const { tenant, user } = await createTenantWithAdmin({ name: "HTTP Hotel", email, passwordHash });
  return { email, tenantId: tenant.id, userId: user.id };
}

/** Logs in and returns the cookie pair to send back ("mb_session=..."). */
async function login(email: string): Promise<{ cookie: string; setCookie: string; body: Json }> {
  const res = await call("/api/auth/login", { method: "POST", body: { email, password: PASSWORD } });
  assert.equal(res.status, 200);
  const setCookie = res.headers.get("set-cookie") ?? "";
  const cookie = setCookie.split(";")[0] ?? "";
  assert.match(cookie, /^mb_session=[A-Za-z0-9_-]{43}$/);
  return { cookie, setCookie, body: (await res.json()) as Json };
}

describe("auth over HTTP", () => {
  before(async () => {
    passwordHash = await hashPassword(PASSWORD);
  });
  after(async () => {
    await closeDb();
  });

  test("GET /health reports the database", async () => {
    const res = await call("/health");
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "ok", db: "ok" });
  });

  test("login answers the user and tenant and sets a locked-down session cookie", async () => {
    const { email, tenantId, userId } = await makeAdmin();
    const { setCookie, body } = await login(email);
    assert.deepEqual(body, { user: { id: userId, email, role: "admin" }, tenant: { id: tenantId, name: "HTTP Hotel" } });
    const attributes = setCookie.split(";").map((s) => s.trim().toLowerCase());
    assert.ok(attributes.includes("httponly"), setCookie);
    assert.ok(attributes.includes("samesite=lax"), setCookie);
    assert.ok(attributes.includes("path=/"), setCookie);
    assert.ok(attributes.some((a) => a.startsWith("max-age=")), setCookie);
    // Secure exactly when the app is served over https.
    const https = new URL(APP_URL as string).protocol === "https:";
    assert.equal(attributes.includes("secure"), https, setCookie);
  });

  test("me answers for a session and 401 without one; logout ends the session", async () => {
    const { email, userId } = await makeAdmin();
    const { cookie } = await login(email);

    const me = await call("/api/auth/me", { cookie });
    assert.equal(me.status, 200);
    const meBody = (await me.json()) as { user: { id: string } };
    assert.equal(meBody.user.id, userId);

    const anonymous = await call("/api/auth/me");
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as ErrorJson).error.code, "unauthorized");

    const logout = await call("/api/auth/logout", { method: "POST", cookie });
    assert.equal(logout.status, 204);
    assert.match(logout.headers.get("set-cookie") ?? "", /^mb_session=;.*Max-Age=0/i);

    const after = await call("/api/auth/me", { cookie });
    assert.equal(after.status, 401);
    // The stale cookie is cleared so the browser stops sending it.
    assert.match(after.headers.get("set-cookie") ?? "", /^mb_session=;/);
  });

  test("wrong credentials are a 401 invalid_credentials without a cookie", async () => {
    const { email } = await makeAdmin();
    const res = await call("/api/auth/login", { method: "POST", body: { email, password: "nope" } });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("set-cookie"), null);
    const body = (await res.json()) as ErrorJson;
    assert.deepEqual(body, { error: { code: "invalid_credentials", message: "Email or password is incorrect." } });
  });

  test("the sixth attempt on one email from one client is a 429 with Retry-After", async () => {
    const { email } = await makeAdmin();
    // The runner's app trusts one proxy hop: the last X-Forwarded-For entry is the client.
    const client = { "x-forwarded-for": `198.51.100.77, test-${randomUUID()}` };
    for (let i = 0; i < 5; i++) {
      const res = await call("/api/auth/login", { method: "POST", body: { email, password: `bad-${i}` }, headers: client });
      assert.equal(res.status, 401);
    }
    const res = await call("/api/auth/login", { method: "POST", body: { email, password: PASSWORD }, headers: client });
    assert.equal(res.status, 429);
    assert.match(res.headers.get("retry-after") ?? "", /^\d+$/);
    assert.equal(((await res.json()) as ErrorJson).error.code, "rate_limited");
  });

  test("a bad body is a 400 with per-field details; broken JSON is invalid_json", async () => {
    const res = await call("/api/auth/login", { method: "POST", body: { email: "not-an-email", password: "" } });
    assert.equal(res.status, 400);
    const body = (await res.json()) as ErrorJson;
    assert.equal(body.error.code, "validation_failed");
    assert.ok(body.error.details?.fields?.email);
    assert.ok(body.error.details?.fields?.password);

    const broken = await call("/api/auth/login", { method: "POST", rawBody: "{not json" });
    assert.equal(broken.status, 400);
    assert.equal(((await broken.json()) as ErrorJson).error.code, "invalid_json");
  });

  test("a state-changing request from another origin, or with a cookie and no Origin, is a 403", async () => {
    const { email } = await makeAdmin();
    const { cookie } = await login(email);

    const foreign = await call("/api/auth/logout", { method: "POST", cookie, origin: "https://evil.example" });
    assert.equal(foreign.status, 403);
    assert.equal(((await foreign.json()) as ErrorJson).error.code, "bad_origin");

    const missing = await call("/api/auth/logout", { method: "POST", cookie, origin: null });
    assert.equal(missing.status, 403);
    assert.equal(((await missing.json()) as ErrorJson).error.code, "bad_origin");

    const crossSiteLogin = await call("/api/auth/login", {
      method: "POST",
      origin: "https://evil.example",
      body: { email, password: PASSWORD },
    });
    assert.equal(crossSiteLogin.status, 403);

    // The session survived both attempts.
    assert.equal((await call("/api/auth/me", { cookie })).status, 200);

    // The server's own origin (from Host) is accepted even when it differs from APP_URL.
    const ownOrigin = new URL(APP_URL as string).origin;
    const same = await call("/api/auth/logout", { method: "POST", cookie, origin: ownOrigin });
    assert.equal(same.status, 204);
  });

  test("a deactivated tenant's session stops working", async () => {
    const { email, tenantId } = await makeAdmin();
    const { cookie } = await login(email);
    assert.equal((await call("/api/auth/me", { cookie })).status, 200);
    await deactivateTenant({ tenantId });
    assert.equal((await call("/api/auth/me", { cookie })).status, 401);
  });

  test("responses carry the security headers and no X-Powered-By", async () => {
    const res = await call("/health");
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("referrer-policy"), "strict-origin-when-cross-origin");
    assert.equal(res.headers.get("x-powered-by"), null);
    assert.ok(res.headers.get("x-request-id"));
    assert.equal(res.headers.get("content-security-policy"), "default-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
  });

  test("the login page renders and / sends anonymous users on to a login", async () => {
    const page = await call("/login");
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Log in/);

    const home = await call("/");
    assert.ok([307, 308].includes(home.status), String(home.status));
    assert.match(home.headers.get("location") ?? "", /\/settings\/email$/);
  });
});
