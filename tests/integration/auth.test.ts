/**
 * Login, sessions and rate limiting against a real PostgreSQL. Needs DATABASE_URL pointing to a
 * migrated database (the test runner provides one). Every test makes its own tenant and emails, so
 * the file can run repeatedly against the same database.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { loginWithPassword, RateLimitedError } from "@/lib/auth/login";
import { hashPassword } from "@/lib/auth/password";
import { createUserSession, deleteUserSession, hashSessionToken, validateSessionToken } from "@/lib/auth/session";
import { closeDb, getPool } from "@/lib/db/client";
import { countRecentFailedLogins } from "@/lib/db/queries/login-attempts";
import { createSession, deleteExpiredSessions, findSessionWithUser } from "@/lib/db/queries/sessions";
import {
  createTenant,
  createTenantWithAdmin,
  deactivateTenant,
  getTenant,
} from "@/lib/db/queries/tenants";
import { createUser, findUserByEmail } from "@/lib/db/queries/users";
import { AppError } from "@/lib/errors";
import { withRoute } from "@/lib/http/route";

// A suite that cannot run fails, never skips (project rule).
if (!process.env.DATABASE_URL) throw new Error("DATABASE_URL is not set (the test runner provides a migrated database)");
const PASSWORD = "correct-horse-battery";
let passwordHash: string;

const uniqueEmail = (label: string): string => `${label}-${randomUUID().slice(0, 8)}@example.test`;
const uniqueClient = (): string => `test-client-${randomUUID()}`;

async function makeUser(opts: { role?: "admin" | "viewer" } = {}): Promise<{ tenantId: string; userId: string; email: string }> {
  const tenant = await createTenant({ name: `Tenant ${randomUUID().slice(0, 8)}` });
  const email = uniqueEmail("user");
  const user = await createUser({ tenantId: tenant.id, email, passwordHash, role: opts.role ?? "admin" });
  return { tenantId: tenant.id, userId: user.id, email };
}

async function expectAppError(promise: Promise<unknown>, status: number, code: string): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AppError, `expected AppError, got ${String(err)}`);
    assert.equal(err.status, status);
    assert.equal(err.code, code);
    return err;
  }
  assert.fail(`expected ${status} ${code}, but the call succeeded`);
}

describe("auth against PostgreSQL", () => {
  before(async () => {
    passwordHash = await hashPassword(PASSWORD);
  });
  after(async () => {
    await closeDb();
  });

  test("createTenant, getTenant and createTenantWithAdmin", async () => {
    const tenant = await createTenant({ name: "Hotel A" });
    assert.equal(tenant.isActive, true);
    assert.deepEqual(await getTenant({ tenantId: tenant.id }), tenant);
    assert.equal(await getTenant({ tenantId: randomUUID() }), null);

    const email = uniqueEmail("admin");
    const { tenant: t2, user } = await createTenantWithAdmin({ name: "Hotel B", email, passwordHash });
    assert.equal(user.tenantId, t2.id);
    assert.equal(user.role, "admin");
  });

  test("a duplicate email (in any case) is a 409 and leaves no orphan tenant", async () => {
    const { email } = await makeUser();
    await expectAppError(
      createUser({ tenantId: (await createTenant({ name: "Other" })).id, email: email.toUpperCase(), passwordHash, role: "viewer" }),
      409,
      "email_taken",
    );
    const before = await getPool().query<{ n: number }>("SELECT count(*)::int AS n FROM tenants");
    await expectAppError(createTenantWithAdmin({ name: "Dup", email, passwordHash }), 409, "email_taken");
    const afterCount = await getPool().query<{ n: number }>("SELECT count(*)::int AS n FROM tenants");
    assert.equal(afterCount.rows[0]?.n, before.rows[0]?.n);
  });

  test("createUser for an unknown tenant is a 404", async () => {
    await expectAppError(
      createUser({ tenantId: randomUUID(), email: uniqueEmail("x"), passwordHash, role: "admin" }),
      404,
      "not_found",
    );
  });

  test("findUserByEmail is case-insensitive and ignores surrounding spaces", async () => {
    const { email, userId, tenantId } = await makeUser();
    const found = await findUserByEmail({ email: `  ${email.toUpperCase()} ` });
    assert.equal(found?.id, userId);
    assert.equal(found?.tenant.id, tenantId);
    assert.equal(found?.tenant.isActive, true);
    assert.equal(await findUserByEmail({ email: uniqueEmail("nobody") }), null);
  });

  test("loginWithPassword opens a session that validates to the user and tenant", async () => {
    const { email, userId, tenantId } = await makeUser();
    const result = await loginWithPassword({ email, password: PASSWORD, clientKey: uniqueClient() });
    assert.equal(result.user.id, userId);
    assert.equal(result.user.email, email);
    assert.equal(result.user.role, "admin");
    assert.equal(result.tenant.id, tenantId);
    assert.match(result.token, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(result.expiresAt.getTime() > Date.now() + 60 * 60 * 1000);

    const session = await validateSessionToken(result.token);
    assert.ok(session);
    assert.equal(session.user.id, userId);
    assert.equal(session.tenant.id, tenantId);
    assert.equal(session.renewed, false);

    // Only the hash of the token is stored.
    const stored = await getPool().query<{ id: string }>("SELECT id FROM sessions WHERE user_id = $1", [userId]);
    assert.deepEqual(
      stored.rows.map((r) => r.id),
      [hashSessionToken(result.token)],
    );
  });

  test("the email is matched case-insensitively at login", async () => {
    const { email } = await makeUser();
    const result = await loginWithPassword({ email: email.toUpperCase(), password: PASSWORD, clientKey: uniqueClient() });
    assert.equal(result.user.email, email);
  });

  test("a wrong password and an unknown email give the same 401", async () => {
    const { email } = await makeUser();
    const wrong = await expectAppError(
      loginWithPassword({ email, password: "wrong", clientKey: uniqueClient() }),
      401,
      "invalid_credentials",
    );
    const unknown = await expectAppError(
      loginWithPassword({ email: uniqueEmail("ghost"), password: PASSWORD, clientKey: uniqueClient() }),
      401,
      "invalid_credentials",
    );
    assert.equal(wrong.message, "Email or password is incorrect.");
    assert.equal(unknown.message, wrong.message);
  });

  test("after 5 failures for an email from one client, that client is refused even the right password (429, Retry-After)", async () => {
    const { email } = await makeUser();
    const clientKey = uniqueClient();
    for (let i = 0; i < 5; i++) {
      await expectAppError(loginWithPassword({ email, password: `wrong-${i}`, clientKey }), 401, "invalid_credentials");
    }
    const err = await expectAppError(loginWithPassword({ email, password: PASSWORD, clientKey }), 429, "rate_limited");
    assert.ok(err instanceof RateLimitedError);
    assert.ok(err.retryAfterSeconds > 14 * 60 && err.retryAfterSeconds <= 15 * 60, String(err.retryAfterSeconds));
    const res = err.toResponse();
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), String(err.retryAfterSeconds));
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(body.error.code, "rate_limited");
    // The account itself is not locked: its owner from another client still gets in.
    const ok = await loginWithPassword({ email, password: PASSWORD, clientKey: uniqueClient() });
    assert.equal(ok.user.email, email.toLowerCase());
  });

  test("failures for an email from many clients slow its next attempts down but never block them", async () => {
    const { email } = await makeUser();
    for (let i = 0; i < 6; i++) {
      await expectAppError(loginWithPassword({ email, password: `wrong-${i}`, clientKey: uniqueClient() }), 401, "invalid_credentials");
    }
    // 6 failures: the 7th attempt waits emailSlowdownMs(6) = 500 ms before its password is checked.
    const started = performance.now();
    await loginWithPassword({ email, password: PASSWORD, clientKey: uniqueClient() });
    assert.ok(performance.now() - started >= 450);
  });

  test("a success before the limit clears the email's failures", async () => {
    const { email } = await makeUser();
    for (let i = 0; i < 4; i++) {
      await expectAppError(loginWithPassword({ email, password: "wrong", clientKey: uniqueClient() }), 401, "invalid_credentials");
    }
    await loginWithPassword({ email, password: PASSWORD, clientKey: uniqueClient() });
    const since = new Date(Date.now() - 15 * 60 * 1000);
    assert.equal(await countRecentFailedLogins({ key: `email:${email.toLowerCase()}`, since }), 0);
    for (let i = 0; i < 4; i++) {
      await expectAppError(loginWithPassword({ email, password: "wrong", clientKey: uniqueClient() }), 401, "invalid_credentials");
    }
    await loginWithPassword({ email, password: PASSWORD, clientKey: uniqueClient() });
  });

  test("after 20 failures from one client address, that client is refused for every email", async () => {
    const clientKey = uniqueClient();
    for (let i = 0; i < 20; i++) {
      await expectAppError(
        loginWithPassword({ email: uniqueEmail("spray"), password: "guess", clientKey }),
        401,
        "invalid_credentials",
      );
    }
    const { email } = await makeUser();
    await expectAppError(loginWithPassword({ email, password: PASSWORD, clientKey }), 429, "rate_limited");
    // Another client is unaffected.
    await loginWithPassword({ email, password: PASSWORD, clientKey: uniqueClient() });
  });

  test("an expired session is rejected and cleaned up", async () => {
    const { userId } = await makeUser();
    const token = "a".repeat(22) + randomUUID().replace(/-/g, "").slice(0, 21);
    const sessionId = hashSessionToken(token);
    await createSession({ id: sessionId, userId, expiresAt: new Date(Date.now() - 1000) });
    assert.equal(await findSessionWithUser({ sessionId }), null);
    assert.equal(await validateSessionToken(token), null);
    assert.ok((await deleteExpiredSessions()) >= 1);
    const left = await getPool().query("SELECT 1 FROM sessions WHERE id = $1", [sessionId]);
    assert.equal(left.rowCount, 0);
  });

  test("a session with less than half its TTL left is renewed", async () => {
    const { userId } = await makeUser();
    const token = "b".repeat(22) + randomUUID().replace(/-/g, "").slice(0, 21);
    const sessionId = hashSessionToken(token);
    const soon = new Date(Date.now() + 60 * 1000);
    await createSession({ id: sessionId, userId, expiresAt: soon });
    const session = await validateSessionToken(token);
    assert.ok(session);
    assert.equal(session.renewed, true);
    assert.ok(session.expiresAt.getTime() > Date.now() + 60 * 60 * 1000);
    const stored = await findSessionWithUser({ sessionId });
    assert.equal(stored?.session.expiresAt.getTime(), session.expiresAt.getTime());

    // Pages validate without renewing: the browser's cookie could not follow.
    const token2 = "c".repeat(22) + randomUUID().replace(/-/g, "").slice(0, 21);
    await createSession({ id: hashSessionToken(token2), userId, expiresAt: soon });
    const unrenewed = await validateSessionToken(token2, { renew: false });
    assert.equal(unrenewed?.renewed, false);
    assert.equal(unrenewed?.expiresAt.getTime(), soon.getTime());
  });

  test("malformed and unknown tokens are rejected", async () => {
    assert.equal(await validateSessionToken(undefined), null);
    assert.equal(await validateSessionToken(""), null);
    assert.equal(await validateSessionToken("short"), null);
    assert.equal(await validateSessionToken("x".repeat(43)), null);
  });

  test("logout deletes the session", async () => {
    const { userId } = await makeUser();
    const { token } = await createUserSession({ userId });
    assert.ok(await validateSessionToken(token));
    await deleteUserSession(token);
    assert.equal(await validateSessionToken(token), null);
  });

  test("deactivating a tenant ends its sessions, blocks login, and notifies the watchers", async () => {
    const { email, tenantId } = await makeUser();
    const { token } = await loginWithPassword({ email, password: PASSWORD, clientKey: uniqueClient() });
    assert.ok(await validateSessionToken(token));

    // Listen on a dedicated connection, as the watcher does.
    const listener = await getPool().connect();
    const notifications: string[] = [];
    listener.on("notification", (msg) => {
      if (msg.channel === "mailbox_changed" && msg.payload) notifications.push(msg.payload);
    });
    await listener.query("LISTEN mailbox_changed");
    try {
      const tenant = await deactivateTenant({ tenantId });
      assert.equal(tenant?.isActive, false);
      const deadline = Date.now() + 2000;
      while (Date.now() < deadline && !notifications.some((p) => p.includes(tenantId))) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const payload = notifications.map((p) => JSON.parse(p) as { tenant_id: string; op: string }).find((p) => p.tenant_id === tenantId);
      assert.deepEqual(payload, { tenant_id: tenantId, op: "tenant" });
    } finally {
      await listener.query("UNLISTEN mailbox_changed");
      listener.release();
    }

    assert.equal(await validateSessionToken(token), null);
    assert.equal((await getTenant({ tenantId }))?.isActive, false);
    await expectAppError(loginWithPassword({ email, password: PASSWORD, clientKey: uniqueClient() }), 403, "tenant_inactive");
    // A wrong password still gets the generic answer, so deactivation reveals nothing to a stranger.
    await expectAppError(loginWithPassword({ email, password: "wrong", clientKey: uniqueClient() }), 401, "invalid_credentials");
    assert.equal(await deactivateTenant({ tenantId: randomUUID() }), null);
  });

  test("a viewer logs in with its role", async () => {
    const { email } = await makeUser({ role: "viewer" });
    const result = await loginWithPassword({ email, password: PASSWORD, clientKey: uniqueClient() });
    assert.equal(result.user.role, "viewer");
  });

  test("withRoute: session routes get the session's tenant, admin routes refuse viewers", async () => {
    const admin = await makeUser();
    const viewer = await makeUser({ role: "viewer" });
    const adminSession = await createUserSession({ userId: admin.userId });
    const viewerSession = await createUserSession({ userId: viewer.userId });
    const other = await createTenant({ name: "Somebody else" });

    const whoAmI = withRoute({ auth: "session" }, async ({ tenantId, session }) =>
      Response.json({ tenantId, role: session.user.role }),
    );
    const adminOnly = withRoute({ auth: "admin" }, async () => new Response(null, { status: 204 }));
    const noParams = { params: Promise.resolve({}) };
    const get = (token: string, query = ""): Request =>
      new Request(`http://localhost:3000/api/tenant/x${query}`, { headers: { cookie: `mb_session=${token}` } });

    // A tenant id in the request is ignored: the session decides.
    const res = await whoAmI(get(viewerSession.token, `?tenant_id=${other.id}`), noParams);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { tenantId: viewer.tenantId, role: "viewer" });

    assert.equal((await adminOnly(get(adminSession.token), noParams)).status, 204);
    const refused = await adminOnly(get(viewerSession.token), noParams);
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "forbidden");
  });

  test("withRoute: a renewed session re-sends its cookie", async () => {
    const { userId } = await makeUser();
    const token = "d".repeat(22) + randomUUID().replace(/-/g, "").slice(0, 21);
    await createSession({ id: hashSessionToken(token), userId, expiresAt: new Date(Date.now() + 60 * 1000) });
    const handler = withRoute({ auth: "session" }, async () => Response.json({ ok: true }));
    const res = await handler(
      new Request("http://localhost:3000/api/auth/me", { headers: { cookie: `mb_session=${token}` } }),
      { params: Promise.resolve({}) },
    );
    assert.equal(res.status, 200);
    const setCookie = res.headers.get("set-cookie") ?? "";
    assert.match(setCookie, new RegExp(`^mb_session=${token};`));
    const maxAge = Number(/Max-Age=(\d+)/.exec(setCookie)?.[1]);
    assert.ok(maxAge > 60 * 60, setCookie);
  });
});
