/**
 * OAuth connect over HTTP against a real OAuth server (oauth2-mock-server, tests/harness/oauth-server.ts)
 * standing in for Google and Microsoft, plus the token manager in this process against the same
 * server and database. The web app is started by this file (tests/harness/oauth-app.ts) so that its
 * OAuth endpoints point at the local server.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { useFreshDatabase } from "@/tests/harness/database";
import { startTestWebApp, type TestWebApp } from "@/tests/harness/oauth-app";
import { startOAuthServer, type OAuthTestServer } from "@/tests/harness/oauth-server";

const database = await useFreshDatabase();
const oauth: OAuthTestServer = await startOAuthServer();
// The token manager in this process talks to the same server as the web app.
Object.assign(process.env, oauth.env(), { OAUTH_REFRESH_SKEW_SECONDS: "300", LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" });

const { hashPassword } = await import("@/lib/auth/password");
const { createTenantWithAdmin } = await import("@/lib/db/queries/tenants");
const { createUser } = await import("@/lib/db/queries/users");
const { getMailbox, getMailboxById } = await import("@/lib/db/queries/mailboxes");
const { listenForMailboxChanges } = await import("@/lib/db/queries/mailbox-changes");
const { listRecentEvents } = await import("@/lib/db/queries/mailbox-events");
const { getSecretBox } = await import("@/lib/crypto/secret-box");
const { closeDb } = await import("@/lib/db/client");
const { signOAuthState, sessionBinding } = await import("@/lib/oauth/state");
const { getAccessToken, createAccessTokenSource, resetTokenManagerState } = await import("@/lib/oauth/token-manager");
const { MailError } = await import("@/lib/email/provider");

const root = path.resolve(import.meta.dirname, "..", "..");
const PASSWORD = "oauth-flow-password";
const FERNET = /^gAAAAA[A-Za-z0-9_-]+={0,2}$/;

let app: TestWebApp;
let passwordHash: string;
let sql: pg.Client;
/** Every response body this test received, checked for secrets at the end. */
const bodies: string[] = [];

type Json = Record<string, unknown>;
type Admin = { email: string; tenantId: string; cookie: string };

async function call(
  pathname: string,
  init: { method?: string; cookie?: string; body?: unknown; accept?: string; origin?: string | null } = {},
): Promise<{ status: number; text: string; json: () => Json; headers: Headers }> {
  const method = init.method ?? "GET";
  const headers: Record<string, string> = { "x-forwarded-for": `203.0.113.${Math.floor(Math.random() * 250) + 1}` };
  if (init.cookie) headers.cookie = init.cookie;
  if (init.accept) headers.accept = init.accept;
  if (method !== "GET" && init.origin !== null) headers.origin = init.origin ?? app.url;
  let body: string | undefined;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers["content-type"] = "application/json";
  }
  const res = await fetch(pathname.startsWith("http") ? pathname : `${app.url}${pathname}`, { method, headers, body, redirect: "manual" });
  const text = await res.text();
  bodies.push(text);
  return { status: res.status, text, headers: res.headers, json: () => JSON.parse(text) as Json };
}

async function login(email: string): Promise<string> {
  const res = await call("/api/auth/login", { method: "POST", body: { email, password: PASSWORD } });
  assert.equal(res.status, 200, res.text);
  const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  assert.match(cookie, /^mb_session=/);
  return cookie;
}

async function makeAdmin(name = "OAuth Hotel"): Promise<Admin> {
  const email = `admin-${randomUUID().slice(0, 8)}@hotel.test`;
  const { tenant } = await createTenantWithAdmin({ name, email, passwordHash });
  return { email, tenantId: tenant.id, cookie: await login(email) };
}

async function authorize(admin: Admin, provider: string, body: Json): Promise<{ authorization_url: string; state: string }> {
  const res = await call(`/api/oauth/${provider}/authorize`, { method: "POST", cookie: admin.cookie, body });
  assert.equal(res.status, 200, res.text);
  const json = res.json();
  assert.deepEqual(Object.keys(json).sort(), ["authorization_url", "state"]);
  return json as { authorization_url: string; state: string };
}

/** The browser's part at the provider: follow its redirect back to our callback URL. */
async function approveAt(authorizationUrl: string): Promise<string> {
  const res = await fetch(authorizationUrl, { redirect: "manual" });
  assert.equal(res.status, 302, await res.text());
  const location = res.headers.get("location") ?? "";
  assert.ok(location.startsWith(`${app.url}/api/oauth/`), location);
  return location;
}

async function connect(admin: Admin, provider: "google" | "microsoft", body: Json): Promise<Json> {
  const { authorization_url } = await authorize(admin, provider, body);
  const callbackUrl = await approveAt(authorization_url);
  const res = await call(callbackUrl, { cookie: admin.cookie, accept: "application/json" });
  assert.equal(res.status, 200, res.text);
  return res.json();
}

async function flowRow(flowId: string): Promise<{ code_verifier_encrypted: string; used_at: Date | null } | undefined> {
  const r = await sql.query<{ code_verifier_encrypted: string; used_at: Date | null }>("SELECT code_verifier_encrypted, used_at FROM oauth_flows WHERE id = $1", [flowId]);
  return r.rows[0];
}

function jtiOf(state: string): string {
  const payload = JSON.parse(Buffer.from(state.split(".")[1] ?? "", "base64url").toString("utf8")) as { jti: string };
  return payload.jti;
}

/** Puts the stored expiry into the refresh window (or far away), as time passing would. */
async function setExpiry(mailboxId: string, inSeconds: number): Promise<void> {
  await sql.query("UPDATE mailboxes SET oauth_token_expiry = now() + make_interval(secs => $2) WHERE id = $1", [mailboxId, inSeconds]);
}

const refreshCount = (): number => oauth.tokenRequests.filter((r) => r.grantType === "refresh_token").length;

before(async () => {
  passwordHash = await hashPassword(PASSWORD);
  sql = new pg.Client({ connectionString: database.url });
  await sql.connect();
  app = await startTestWebApp({ ...oauth.env(), DATABASE_URL: database.url, OAUTH_REFRESH_SKEW_SECONDS: "300" });
});

after(async () => {
  await app?.stop();
  await oauth.stop();
  await sql?.end();
  await closeDb();
  await database.drop();
});

describe("POST /api/oauth/{provider}/authorize", () => {
  it("answers an authorization URL with PKCE (S256), offline access and a signed state; the verifier stays encrypted in the flow row", async () => {
    const admin = await makeAdmin();
    const { authorization_url, state } = await authorize(admin, "google", { email_type: "booking" });
    const url = new URL(authorization_url);
    assert.equal(`${url.origin}${url.pathname}`, `${oauth.url}/authorize`);
    const q = url.searchParams;
    assert.equal(q.get("client_id"), oauth.clients.google.id);
    assert.equal(q.get("redirect_uri"), `${app.url}/api/oauth/google/callback`);
    assert.equal(q.get("response_type"), "code");
    assert.equal(q.get("code_challenge_method"), "S256");
    assert.match(q.get("code_challenge") ?? "", /^[A-Za-z0-9_-]{43}$/);
    assert.equal(q.get("access_type"), "offline");
    assert.equal(q.get("prompt"), "consent");
    assert.equal(q.get("state"), state);
    assert.deepEqual(q.get("scope")?.split(" "), [
      "openid",
      "email",
      "https://www.googleapis.com/auth/gmail.readonly",
      "https://www.googleapis.com/auth/gmail.modify",
    ]);
    assert.equal(q.get("code_verifier"), null);
    // A JWT (HS256) whose jti names the pending flow; the verifier is only in the row, encrypted.
    assert.equal(state.split(".").length, 3);
    const row = await flowRow(jtiOf(state));
    assert.ok(row);
    assert.match(row.code_verifier_encrypted, FERNET);
    assert.equal(row.used_at, null);
  });

  it("asks for IMAP XOAUTH2 scopes with access=imap, and uses the Microsoft tenant path", async () => {
    const admin = await makeAdmin();
    const google = new URL((await authorize(admin, "google", { email_type: "stopsale", access: "imap" })).authorization_url);
    assert.deepEqual(google.searchParams.get("scope")?.split(" "), ["openid", "email", "https://mail.google.com/"]);
    const ms = new URL((await authorize(admin, "microsoft", { email_type: "booking", access: "imap" })).authorization_url);
    assert.equal(ms.pathname, "/common/oauth2/v2.0/authorize");
    assert.deepEqual(ms.searchParams.get("scope")?.split(" "), [
      "openid",
      "email",
      "profile",
      "offline_access",
      "https://outlook.office.com/IMAP.AccessAsUser.All",
    ]);
    const graph = new URL((await authorize(admin, "microsoft", { email_type: "booking" })).authorization_url);
    assert.ok(graph.searchParams.get("scope")?.split(" ").includes("Mail.ReadWrite"));
  });

  it("refuses unknown providers, bad email types, viewers, missing sessions and cross-site requests", async () => {
    const admin = await makeAdmin();
    assert.equal((await call("/api/oauth/yahoo/authorize", { method: "POST", cookie: admin.cookie, body: { email_type: "booking" } })).status, 404);
    const bad = await call("/api/oauth/google/authorize", { method: "POST", cookie: admin.cookie, body: { email_type: "spam" } });
    assert.equal(bad.status, 400);
    assert.equal((bad.json().error as Json).code, "invalid_email_type");
    const badAccess = await call("/api/oauth/google/authorize", { method: "POST", cookie: admin.cookie, body: { email_type: "booking", access: "graph_api" } });
    assert.equal(badAccess.status, 400);
    assert.equal((await call("/api/oauth/google/authorize?email_type=booking", { method: "POST" })).status, 401);
    const crossSite = await call("/api/oauth/google/authorize?email_type=booking", { method: "POST", cookie: admin.cookie, origin: "https://evil.test" });
    assert.equal(crossSite.status, 403);
    const viewerEmail = `viewer-${randomUUID().slice(0, 8)}@hotel.test`;
    await createUser({ tenantId: admin.tenantId, email: viewerEmail, passwordHash, role: "viewer" });
    const viewer = await call("/api/oauth/google/authorize?email_type=booking", { method: "POST", cookie: await login(viewerEmail) });
    assert.equal(viewer.status, 403);
  });
});

describe("GET /api/oauth/{provider}/callback", () => {
  it("Google: exchanges the code, finds the address, stores the tokens encrypted, sets the mailbox to OAuth and tells the watcher", async () => {
    const admin = await makeAdmin();
    oauth.scriptNextAuthorization({ provider: "google", email: "Reservations@Gmail.test" });
    const notifications: unknown[] = [];
    const listener = await listenForMailboxChanges({ onChange: (c) => notifications.push(c), onError: () => {} });
    try {
      const result = await connect(admin, "google", { email_type: "booking" });
      assert.deepEqual(result, {
        success: true,
        message: "Connected reservations@gmail.test with Google.",
        connected_email: "reservations@gmail.test",
        email_type: "booking",
        provider: "google",
      });
      const mailbox = await getMailbox({ tenantId: admin.tenantId, purpose: "booking" });
      assert.ok(mailbox);
      assert.equal(mailbox.provider, "google");
      assert.equal(mailbox.access, "gmail_api");
      assert.equal(mailbox.authMethod, "oauth2");
      assert.equal(mailbox.oauthProvider, "google");
      assert.equal(mailbox.oauthConnectedEmail, "reservations@gmail.test");
      assert.equal(mailbox.address, "reservations@gmail.test");
      assert.equal(mailbox.enabled, true);
      assert.equal(mailbox.oauthClientId, null);
      assert.ok(mailbox.oauthScopes.includes("https://www.googleapis.com/auth/gmail.modify"));
      assert.ok(mailbox.oauthTokenExpiry && Math.abs(mailbox.oauthTokenExpiry.getTime() - (Date.now() + 3600_000)) < 60_000);
      // Fernet tokens in the columns, decrypting to what the provider issued.
      assert.match(mailbox.oauthAccessTokenEncrypted ?? "", FERNET);
      assert.match(mailbox.oauthRefreshTokenEncrypted ?? "", FERNET);
      const refresh = oauth.currentRefreshToken("reservations@gmail.test");
      assert.ok(refresh);
      assert.equal(getSecretBox().decrypt(mailbox.oauthRefreshTokenEncrypted ?? ""), refresh);
      assert.ok(!(mailbox.oauthRefreshTokenEncrypted ?? "").includes(refresh));
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(notifications.some((n) => (n as Json).op === "upsert" && (n as Json).mailbox_id === mailbox.id));
      const events = await listRecentEvents({ mailboxId: mailbox.id, limit: 5 });
      assert.ok(events.some((e) => e.kind === "connected"));
    } finally {
      await listener.close();
    }
  });

  it("Microsoft over IMAP: an HTML page that posts the result to the opener with the exact app origin, and an IMAP mailbox at Outlook", async () => {
    const admin = await makeAdmin();
    const { authorization_url } = await authorize(admin, "microsoft", { email_type: "stopsale", access: "imap" });
    const res = await call(await approveAt(authorization_url), { cookie: admin.cookie, accept: "text/html" });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(res.text, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; script-src &#39;sha256-[A-Za-z0-9+/=]+&#39;/);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.ok(res.text.includes(`window.opener.postMessage(result, origin)`));
    assert.ok(res.text.includes(`var origin = ${JSON.stringify(app.url)};`), "target origin is APP_URL's origin");
    assert.ok(res.text.includes(`"connected_email":"bob@outlook.test"`));
    assert.ok(res.text.includes(`"type":"mailbox-oauth"`));
    assert.ok(res.text.includes("/settings/email?oauth=success"), "full-page fallback when there is no opener");
    // The fallback URL carries no words: the notice comes from the cookie this response set (issue 14).
    assert.ok(!/settings\/email\?[^"]*(message|connected_email)=/.test(res.text), "no text in the fallback query");
    const resultCookie = /^mb_oauth_result=([A-Za-z0-9_-]+); Path=\/settings; Max-Age=300; SameSite=Lax$/.exec(res.headers.get("set-cookie") ?? "");
    assert.ok(resultCookie, res.headers.get("set-cookie") ?? "no set-cookie");
    const { decodeOAuthResult } = await import("@/lib/oauth/result-cookie");
    assert.deepEqual(decodeOAuthResult(resultCookie[1]), {
      success: true,
      message: "Connected bob@outlook.test with Microsoft.",
      connected_email: "bob@outlook.test",
      email_type: "stopsale",
      provider: "microsoft",
    });
    const mailbox = await getMailbox({ tenantId: admin.tenantId, purpose: "stopsale" });
    assert.equal(mailbox?.provider, "microsoft");
    assert.equal(mailbox?.access, "imap");
    assert.equal(mailbox?.host, "outlook.office365.com");
    assert.equal(mailbox?.port, 993);
    assert.equal(mailbox?.useSsl, true);
    assert.equal(mailbox?.oauthConnectedEmail, "bob@outlook.test");
    const exchange = oauth.tokenRequests.filter((r) => r.provider === "microsoft" && r.grantType === "authorization_code").at(-1);
    assert.equal(exchange?.tenant, "common");
    assert.equal(exchange?.outcome, "ok");
  });

  it("a state is single use: the replayed callback is refused and changes nothing", async () => {
    const admin = await makeAdmin();
    const { authorization_url, state } = await authorize(admin, "google", { email_type: "booking" });
    const callbackUrl = await approveAt(authorization_url);
    assert.equal((await call(callbackUrl, { cookie: admin.cookie, accept: "application/json" })).status, 200);
    const before = await getMailbox({ tenantId: admin.tenantId, purpose: "booking" });
    const replay = await call(callbackUrl, { cookie: admin.cookie, accept: "application/json" });
    assert.equal(replay.status, 409);
    assert.equal((replay.json().error as Json).code, "state_used");
    assert.equal(replay.json().success, false);
    assert.ok((await flowRow(jtiOf(state)))?.used_at);
    assert.deepEqual(await getMailbox({ tenantId: admin.tenantId, purpose: "booking" }), before);
  });

  it("a state is bound to the session that started it: another admin, another session or none are refused", async () => {
    const admin = await makeAdmin();
    const other = await makeAdmin("Other Hotel");
    const secondSession = await login(admin.email);
    const { authorization_url } = await authorize(admin, "google", { email_type: "booking" });
    const callbackUrl = await approveAt(authorization_url);
    const foreign = await call(callbackUrl, { cookie: other.cookie, accept: "application/json" });
    assert.equal(foreign.status, 403);
    assert.equal((foreign.json().error as Json).code, "state_session_mismatch");
    const sameUserOtherSession = await call(callbackUrl, { cookie: secondSession, accept: "application/json" });
    assert.equal(sameUserOtherSession.status, 403);
    const anonymous = await call(callbackUrl, { accept: "application/json" });
    assert.equal(anonymous.status, 401);
    assert.equal(await getMailbox({ tenantId: other.tenantId, purpose: "booking" }), null);
    assert.equal(await getMailbox({ tenantId: admin.tenantId, purpose: "booking" }), null);
    // The rightful session can still finish: the failed attempts did not use the state up.
    assert.equal((await call(callbackUrl, { cookie: admin.cookie, accept: "application/json" })).status, 200);
  });

  it("tampered, expired and wrong-provider states are refused", async () => {
    const admin = await makeAdmin();
    const { authorization_url, state } = await authorize(admin, "google", { email_type: "booking" });
    const callbackUrl = new URL(await approveAt(authorization_url));
    const code = callbackUrl.searchParams.get("code") ?? "";

    const tamperedState = `${state.slice(0, -4)}${state.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`;
    const tampered = await call(`/api/oauth/google/callback?code=${code}&state=${tamperedState}`, { cookie: admin.cookie, accept: "application/json" });
    assert.equal(tampered.status, 400);
    assert.equal((tampered.json().error as Json).code, "invalid_state");

    // A state for Google presented at the Microsoft callback.
    const crossed = await call(`/api/oauth/microsoft/callback?code=${code}&state=${state}`, { cookie: admin.cookie, accept: "application/json" });
    assert.equal(crossed.status, 400);

    // Signed correctly but issued 11 minutes ago: the JWT itself has expired.
    const sessionId = (await sql.query<{ id: string }>(
      "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1 ORDER BY s.created_at DESC LIMIT 1",
      [admin.email],
    )).rows[0]?.id ?? "";
    const old = await signOAuthState(
      { flowId: jtiOf(state), provider: "google", emailType: "booking", sessionBinding: sessionBinding(sessionId) },
      { now: new Date(Date.now() - 11 * 60_000) },
    );
    const expiredJwt = await call(`/api/oauth/google/callback?code=${code}&state=${old}`, { cookie: admin.cookie, accept: "application/json" });
    assert.equal(expiredJwt.status, 400);
    assert.equal((expiredJwt.json().error as Json).code, "state_expired");

    // A fresh-looking JWT whose flow row has expired.
    await sql.query("UPDATE oauth_flows SET expires_at = now() - interval '1 second' WHERE id = $1", [jtiOf(state)]);
    const expiredRow = await call(callbackUrl.toString(), { cookie: admin.cookie, accept: "application/json" });
    assert.equal(expiredRow.status, 400);
    assert.equal((expiredRow.json().error as Json).code, "state_expired");
    assert.equal(await getMailbox({ tenantId: admin.tenantId, purpose: "booking" }), null);
  });

  it("access_denied at the provider gives a clear message and leaves a connected mailbox unchanged", async () => {
    const admin = await makeAdmin();
    await connect(admin, "google", { email_type: "booking" });
    const before = await getMailbox({ tenantId: admin.tenantId, purpose: "booking" });
    oauth.scriptNextAuthorization({ provider: "microsoft", error: "access_denied" });
    const { authorization_url } = await authorize(admin, "microsoft", { email_type: "booking" });
    const callbackUrl = await approveAt(authorization_url);
    assert.equal(new URL(callbackUrl).searchParams.get("error"), "access_denied");
    const res = await call(callbackUrl, { cookie: admin.cookie, accept: "application/json" });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json(), {
      success: false,
      message: "Access was not granted at Microsoft, so the mailbox was not changed.",
      connected_email: null,
      email_type: "booking",
      provider: "microsoft",
      error: { code: "access_denied", message: "Access was not granted at Microsoft, so the mailbox was not changed." },
    });
    assert.deepEqual(await getMailbox({ tenantId: admin.tenantId, purpose: "booking" }), before);
    // In the popup: the same message, reported to the opener as a failure.
    oauth.scriptNextAuthorization({ provider: "google", error: "access_denied" });
    const page = await call(await approveAt((await authorize(admin, "google", { email_type: "booking" })).authorization_url), { cookie: admin.cookie });
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.ok(page.text.includes(`"success":false`));
    assert.ok(page.text.includes("Access was not granted at Google, so the mailbox was not changed."));
    assert.ok(page.text.includes("oauth=error"));
  });

  it("bring-your-own app: the tenant's client id, secret and Microsoft tenant are used and stored encrypted, never returned", async () => {
    const admin = await makeAdmin();
    const clientId = `own-app-${randomUUID()}`;
    const clientSecret = `own-secret-${randomUUID()}`;
    oauth.addClient(clientId, clientSecret);
    oauth.scriptNextAuthorization({ provider: "microsoft", email: "ops@contoso.test" });
    const { authorization_url } = await authorize(admin, "microsoft", {
      email_type: "booking",
      client_id: clientId,
      client_secret: clientSecret,
      tenant_id: "contoso.test",
    });
    const url = new URL(authorization_url);
    assert.equal(url.pathname, "/contoso.test/oauth2/v2.0/authorize");
    assert.equal(url.searchParams.get("client_id"), clientId);
    assert.ok(!authorization_url.includes(clientSecret));
    const callback = await call(await approveAt(authorization_url), { cookie: admin.cookie, accept: "application/json" });
    assert.equal(callback.status, 200, callback.text);
    assert.ok(!callback.text.includes(clientSecret));
    const exchange = oauth.tokenRequests.filter((r) => r.grantType === "authorization_code").at(-1);
    assert.deepEqual([exchange?.clientId, exchange?.tenant, exchange?.outcome], [clientId, "contoso.test", "ok"]);
    const mailbox = await getMailbox({ tenantId: admin.tenantId, purpose: "booking" });
    assert.ok(mailbox);
    assert.equal(mailbox.oauthClientId, clientId);
    assert.equal(mailbox.oauthTenantId, "contoso.test");
    assert.match(mailbox.oauthClientSecretEncrypted ?? "", FERNET);
    assert.equal(getSecretBox().decrypt(mailbox.oauthClientSecretEncrypted ?? ""), clientSecret);
    // Refresh uses the same app and tenant.
    await setExpiry(mailbox.id, 10);
    resetTokenManagerState();
    await getAccessToken(mailbox.id);
    const refresh = oauth.tokenRequests.filter((r) => r.grantType === "refresh_token").at(-1);
    assert.deepEqual([refresh?.clientId, refresh?.tenant, refresh?.outcome], [clientId, "contoso.test", "ok"]);
    // Reconnecting without re-typing the secret keeps the stored app.
    const again = new URL((await authorize(admin, "microsoft", { email_type: "booking" })).authorization_url);
    assert.equal(again.searchParams.get("client_id"), clientId);
    assert.equal(again.pathname, "/contoso.test/oauth2/v2.0/authorize");
  });
});

describe("DELETE /api/oauth/{provider}/disconnect", () => {
  it("Google: revokes the grant at the provider, erases the tokens and stops the mailbox", async () => {
    const admin = await makeAdmin();
    oauth.scriptNextAuthorization({ provider: "google", email: "disconnect-me@gmail.test" });
    await connect(admin, "google", { email_type: "stopsale" });
    const refresh = oauth.currentRefreshToken("disconnect-me@gmail.test");
    const res = await call("/api/oauth/google/disconnect?email_type=stopsale", { method: "DELETE", cookie: admin.cookie });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json(), { success: true, revoked: true });
    assert.ok(oauth.revocations.some((r) => r.token === refresh && r.found));
    assert.ok(oauth.grantsOf("disconnect-me@gmail.test").every((g) => g.revoked));
    const mailbox = await getMailbox({ tenantId: admin.tenantId, purpose: "stopsale" });
    assert.equal(mailbox?.oauthAccessTokenEncrypted, null);
    assert.equal(mailbox?.oauthRefreshTokenEncrypted, null);
    assert.equal(mailbox?.oauthConnectedEmail, null);
    assert.equal(mailbox?.status, "disconnected");
    assert.equal(mailbox?.enabled, false);
    const again = await call("/api/oauth/microsoft/disconnect?email_type=stopsale", { method: "DELETE", cookie: admin.cookie });
    assert.equal(again.status, 409);
  });

  it("Microsoft has no revocation endpoint: the tokens are erased here", async () => {
    const admin = await makeAdmin();
    await connect(admin, "microsoft", { email_type: "booking" });
    const revocationsBefore = oauth.revocations.length;
    const res = await call("/api/oauth/microsoft/disconnect", { method: "DELETE", cookie: admin.cookie, body: { email_type: "booking" } });
    assert.deepEqual(res.json(), { success: true, revoked: false });
    assert.equal(oauth.revocations.length, revocationsBefore);
    const mailbox = await getMailbox({ tenantId: admin.tenantId, purpose: "booking" });
    assert.equal(mailbox?.oauthRefreshTokenEncrypted, null);
    assert.equal((await call("/api/oauth/google/disconnect?email_type=stopsale", { method: "DELETE", cookie: admin.cookie })).status, 404);
  });
});

describe("token manager (seed §5.3 refresh_token_if_needed)", () => {
  async function connectedMailbox(email: string, provider: "google" | "microsoft" = "google"): Promise<{ admin: Admin; mailboxId: string }> {
    const admin = await makeAdmin();
    oauth.scriptNextAuthorization({ provider, email });
    await connect(admin, provider, { email_type: "booking" });
    const mailbox = await getMailbox({ tenantId: admin.tenantId, purpose: "booking" });
    assert.ok(mailbox);
    resetTokenManagerState();
    return { admin, mailboxId: mailbox.id };
  }

  it("uses a token that is not due, refreshes one that expires within 5 minutes, and always stores the rotated refresh token", async () => {
    const { mailboxId } = await connectedMailbox("refresh@gmail.test");
    const firstRefresh = oauth.currentRefreshToken("refresh@gmail.test");
    const stored = await getMailboxById({ mailboxId });
    const before = refreshCount();
    const fresh = await getAccessToken(mailboxId);
    assert.equal(refreshCount(), before, "a token valid for an hour is used as is");
    assert.equal(fresh.accessToken, getSecretBox().decrypt(stored?.oauthAccessTokenEncrypted ?? ""));

    await setExpiry(mailboxId, 240);
    const refreshed = await getAccessToken(mailboxId);
    assert.equal(refreshCount(), before + 1);
    assert.notEqual(refreshed.accessToken, fresh.accessToken);
    const row = await getMailboxById({ mailboxId });
    assert.ok(row?.oauthTokenExpiry && row.oauthTokenExpiry.getTime() > Date.now() + 3000_000);
    const rotated = oauth.currentRefreshToken("refresh@gmail.test");
    assert.notEqual(rotated, firstRefresh);
    assert.equal(getSecretBox().decrypt(row?.oauthRefreshTokenEncrypted ?? ""), rotated);
    assert.ok((await listRecentEvents({ mailboxId, limit: 5 })).some((e) => e.kind === "token_refreshed"));
    // The rotated token works (the old one is dead at the server): a second refresh succeeds.
    await setExpiry(mailboxId, 60);
    await getAccessToken(mailboxId);
    assert.equal(oauth.tokenRequests.filter((r) => r.grantType === "refresh_token").at(-1)?.outcome, "ok");
  });

  it("refreshes once for many concurrent callers, in this process and in other processes (row lock)", async () => {
    const { mailboxId } = await connectedMailbox("single-flight@gmail.test");
    await setExpiry(mailboxId, 30);
    const before = refreshCount();
    oauth.setTokenDelay(4000);
    try {
      const script = `const { getAccessToken } = await import(${JSON.stringify(path.join(root, "lib/oauth/token-manager.ts"))});
const t = await getAccessToken(process.argv[1]);
const { closeDb } = await import(${JSON.stringify(path.join(root, "lib/db/client.ts"))});
await closeDb();
process.stdout.write(t.accessToken);`;
      const other = (): Promise<string> =>
        new Promise((resolve, reject) => {
          const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, mailboxId], {
            cwd: root,
            env: { ...process.env, DATABASE_URL: database.url },
            stdio: ["ignore", "pipe", "pipe"],
          });
          let out = "";
          let err = "";
          child.stdout.on("data", (c: Buffer) => (out += c.toString()));
          child.stderr.on("data", (c: Buffer) => (err += c.toString()));
          child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`child failed: ${err}`))));
        });
      const results = await Promise.all([other(), other(), ...Array.from({ length: 5 }, () => getAccessToken(mailboxId).then((t) => t.accessToken))]);
      assert.equal(new Set(results).size, 1, "everyone got the same new token");
      assert.equal(refreshCount(), before + 1, "exactly one refresh reached the provider");
    } finally {
      oauth.setTokenDelay(0);
    }
  });

  it("invalid_grant (revoked consent) throws needs_reauth, erases the dead tokens and never asks the provider again", async () => {
    const { mailboxId } = await connectedMailbox("revoked@gmail.test");
    oauth.revokeGrant("revoked@gmail.test");
    await setExpiry(mailboxId, 10);
    const before = refreshCount();
    const statusBefore = (await getMailboxById({ mailboxId }))?.status;
    await assert.rejects(
      getAccessToken(mailboxId),
      (err: unknown) =>
        err instanceof MailError &&
        err.code === "needs_reauth" &&
        err.message === "Access to the mailbox was revoked or has expired. Reconnect it with Google." &&
        err.options.eventMessage === "Google refused the refresh token (invalid_grant).",
    );
    assert.equal(refreshCount(), before + 1);
    const row = await getMailboxById({ mailboxId });
    // The mailbox connection is the only writer of status and events (watcher-side tests check it).
    assert.equal(row?.status, statusBefore, "the token manager does not write the mailbox status");
    assert.ok(!(await listRecentEvents({ mailboxId, limit: 5 })).some((e) => e.kind === "auth_failed"), "nor its events");
    assert.equal(row?.oauthRefreshTokenEncrypted, null);
    assert.equal(row?.oauthAccessTokenEncrypted, null);
    assert.equal(row?.oauthConnectedEmail, "revoked@gmail.test", "the UI can still say which account to reconnect");
    for (let i = 0; i < 3; i++) {
      await assert.rejects(createAccessTokenSource({ id: mailboxId })(), (err: unknown) => err instanceof MailError && err.code === "needs_reauth");
    }
    assert.equal(refreshCount(), before + 1, "no further refresh attempts");
  });

  it("a network failure or provider outage is not an auth failure: the mailbox keeps its tokens and status", async () => {
    const { mailboxId } = await connectedMailbox("flaky@gmail.test", "microsoft");
    await setExpiry(mailboxId, 10);
    const statusBefore = (await getMailboxById({ mailboxId }))?.status;
    for (const mode of ["down", "error"] as const) {
      oauth.setTokenEndpoint(mode);
      try {
        await assert.rejects(getAccessToken(mailboxId), (err: unknown) => err instanceof MailError && err.code === "network");
      } finally {
        oauth.setTokenEndpoint("up");
      }
      const row = await getMailboxById({ mailboxId });
      assert.equal(row?.status, statusBefore);
      assert.ok(row?.oauthRefreshTokenEncrypted);
    }
    const ok = await getAccessToken(mailboxId);
    assert.ok(ok.accessToken);
    assert.ok(!(await listRecentEvents({ mailboxId, limit: 10 })).some((e) => e.kind === "auth_failed"));
  });

  it("forceRefresh after a 401 gets a new token once, and does not storm", async () => {
    const { mailboxId } = await connectedMailbox("force@gmail.test");
    const source = createAccessTokenSource({ id: mailboxId });
    const t1 = await source();
    const before = refreshCount();
    const t2 = await source({ forceRefresh: true });
    assert.notEqual(t2, t1);
    assert.equal(refreshCount(), before + 1);
    const t3 = await source({ forceRefresh: true });
    assert.equal(t3, t2, "a second forced refresh right away reuses the new token");
    assert.equal(refreshCount(), before + 1);
  });
});

describe("secrets", () => {
  it("no token, client secret or refresh token appears in any response, app log line, or in clear in the database", async () => {
    const secrets = oauth.issuedSecrets();
    assert.ok(secrets.length > 10);
    const dump = (
      await sql.query<{ t: string }>(
        "SELECT coalesce(json_agg(m)::text, '') || coalesce((SELECT json_agg(f)::text FROM oauth_flows f), '') || coalesce((SELECT json_agg(e)::text FROM mailbox_events e), '') AS t FROM mailboxes m",
      )
    ).rows[0]?.t ?? "";
    assert.ok(dump.length > 100);
    const logs = app.logs.join("\n");
    assert.ok(logs.length > 0);
    for (const secret of secrets) {
      assert.ok(!dump.includes(secret), "a secret is stored in clear in the database");
      assert.ok(!logs.includes(secret), "a secret appears in the app's logs");
      assert.ok(!bodies.some((b) => b.includes(secret)), "a secret appears in a response");
    }
  });
});
