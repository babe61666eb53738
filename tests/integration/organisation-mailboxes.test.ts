/**
 * Issue 18 end to end: organisation mailboxes connected through the built web app's API, run by the
 * real watcher process, against the Graph and Gmail fakes and the local OAuth server
 * (tests/harness/oauth-server.ts) acting as Entra and Google:
 * - a Microsoft 365 shared mailbox read through a delegating admin (authorization code flow with
 *   Mail.ReadWrite.Shared, /users/{address}, delta polling: Graph has no notifications for it);
 * - an app-only Graph mailbox (client credentials, change notifications to the web app);
 * - a Google Workspace mailbox by domain-wide delegation (JWT bearer, Pub/Sub push to the web app).
 * Access tokens live 4 s and the refresh skew is 2 s, so every test runs across several tokens.
 * Ordinary polling is slowed to 60 s: app-only and delegated mail that arrives within seconds came by push.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { OAuth2Server } from "oauth2-mock-server";
import { startGmailFake, type GmailFake } from "@/tests/fakes/gmail-fake";
import { startGraphFake, type GraphFake } from "@/tests/fakes/graph-fake";
import { sampleMime } from "@/tests/fakes/sample-mime";
import { useFreshDatabase } from "@/tests/harness/database";
import { startTestWebApp, type TestWebApp } from "@/tests/harness/oauth-app";
import { startOAuthServer, type OAuthTestServer } from "@/tests/harness/oauth-server";
import { waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";

const database = await useFreshDatabase();
const oauth: OAuthTestServer = await startOAuthServer();

const { hashPassword } = await import("@/lib/auth/password");
const { createTenantWithAdmin } = await import("@/lib/db/queries/tenants");
const { getMailbox, getMailboxById } = await import("@/lib/db/queries/mailboxes");
const { countMailboxMessages, listMessages } = await import("@/lib/db/queries/messages");
const { closeDb } = await import("@/lib/db/client");

const PASSWORD = "org-mailbox-password";
const SESSION_SECRET = "org-mailboxes-session-secret-0123456789";
const PUSH_ACCOUNT = "gmail-push@fake-project.iam.gserviceaccount.com";
const TOPIC = "projects/fake-project/topics/gmail";
const GMAIL_MODIFY = "https://www.googleapis.com/auth/gmail.modify";
const TOKEN_TTL_SECONDS = 4;

let oidc: OAuth2Server;
let gmail: GmailFake;
let graph: GraphFake;
let app: TestWebApp;
let watcher: WatcherProcess;
let passwordHash: string;
/** Every response body received, checked for secrets at the end. */
const bodies: string[] = [];

type Json = Record<string, unknown>;
type Admin = { tenantId: string; cookie: string };

async function call(pathname: string, init: { method?: string; cookie?: string; body?: unknown; accept?: string } = {}): Promise<{ status: number; text: string; json: () => Json }> {
  const method = init.method ?? "GET";
  const headers: Record<string, string> = { "x-forwarded-for": `203.0.113.${Math.floor(Math.random() * 250) + 1}` };
  if (init.cookie) headers.cookie = init.cookie;
  if (init.accept) headers.accept = init.accept;
  if (method !== "GET") headers.origin = app.url;
  let body: string | undefined;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers["content-type"] = "application/json";
  }
  const res = await fetch(pathname.startsWith("http") ? pathname : `${app.url}${pathname}`, { method, headers, body, redirect: "manual" });
  const text = await res.text();
  bodies.push(text);
  return { status: res.status, text, json: () => JSON.parse(text) as Json };
}

async function makeAdmin(): Promise<Admin> {
  const email = `admin-${randomUUID().slice(0, 8)}@hotel.test`;
  const { tenant } = await createTenantWithAdmin({ name: "Org Hotel", email, passwordHash });
  const login = await fetch(`${app.url}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: app.url, "x-forwarded-for": "203.0.113.77" },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  assert.equal(login.status, 200, await login.text());
  const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  assert.match(cookie, /^mb_session=/);
  return { tenantId: tenant.id, cookie };
}

async function pubsubToken(): Promise<string> {
  return oidc.issuer.buildToken({
    scopesOrTransform: (_h, p) => {
      Object.assign(p, { aud: `${app.url}/api/webhooks/gmail`, email: PUSH_ACCOUNT, email_verified: true, sub: "1234567890" });
      delete p.scope;
    },
  });
}

function watcherEnv(): Record<string, string> {
  return {
    ...oauth.env(),
    DATABASE_URL: database.url,
    SESSION_SECRET,
    GMAIL_API_BASE_URL: gmail.rootUrl,
    GRAPH_API_BASE_URL: graph.baseUrl,
    GMAIL_PUBSUB_TOPIC: TOPIC,
    GRAPH_NOTIFICATION_URL: `${app.url}/api/webhooks/graph`,
    GRAPH_SUBSCRIPTION_MINUTES: "60",
    GMAIL_POLL_SECONDS: "60",
    GRAPH_POLL_SECONDS: "60",
    API_PUSH_FALLBACK_POLL_SECONDS: "60",
    GRAPH_SHARED_POLL_SECONDS: "1",
    OAUTH_REFRESH_SKEW_SECONDS: "2",
    EMAIL_RECONCILE_SECONDS: "120",
    EMAIL_BACKOFF_MIN_SECONDS: "1",
    EMAIL_BACKOFF_MAX_SECONDS: "2",
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function subjectsOf(tenantId: string): Promise<string[]> {
  return (await listMessages({ tenantId, limit: 100 })).map((m) => m.subject ?? "").sort();
}

before(async () => {
  passwordHash = await hashPassword(PASSWORD);
  oidc = new OAuth2Server();
  await oidc.issuer.keys.generate("RS256");
  await oidc.start(0, "127.0.0.1");
  gmail = await startGmailFake({
    tokens: [],
    tokenResolver: async (token) => {
      const who = await oauth.resolveToken(token);
      return who?.kind === "user" && who.scope.split(" ").includes(GMAIL_MODIFY) ? who.email : null;
    },
  });
  graph = await startGraphFake({
    tokens: [],
    tokenResolver: async (token) => {
      const who = await oauth.resolveToken(token);
      if (!who) return null;
      return who.kind === "app" ? { kind: "app", appId: who.appId, roles: who.roles } : { kind: "user", email: who.email, scopes: who.scope.split(" ") };
    },
  });
  app = await startTestWebApp({
    ...oauth.env(),
    DATABASE_URL: database.url,
    SESSION_SECRET,
    GMAIL_PUSH_SERVICE_ACCOUNT: PUSH_ACCOUNT,
    GOOGLE_OIDC_JWKS_URL: `${oidc.issuer.url}/jwks`,
    GOOGLE_OIDC_ISSUER: oidc.issuer.url ?? "",
    // The Test button reads the mailbox through the mail APIs from the web process.
    GMAIL_API_BASE_URL: gmail.rootUrl,
    GRAPH_API_BASE_URL: graph.baseUrl,
  });
  oauth.setAccessTokenTtl(TOKEN_TTL_SECONDS);
  watcher = await startWatcherProcess(watcherEnv());
});

after(async () => {
  await watcher?.stop();
  await app?.stop();
  await gmail?.close();
  await graph?.close();
  await oidc?.stop();
  await oauth.stop();
  await closeDb();
  await database.drop();
});


/** The settings page's Test button for the saved mailbox (issue 18 kinds: a token and one API read). */
async function testSaved(cookie: string): Promise<Json> {
  const res = await call("/api/tenant/email/settings/booking/test", { method: "POST", cookie });
  assert.equal(res.status, 200, res.text);
  return res.json();
}
describe("organisation mailboxes through the watcher", () => {
  it("a Microsoft 365 shared mailbox, read through a delegating admin: backlog and new mail once, token refreshes, removed rights → needs_reauth", async () => {
    const adminAccount = "it-admin@contoso.test";
    const shared = "reservations@contoso.test";
    graph.grantMailboxAccess(adminAccount, shared);
    graph.addMessage(adminAccount, sampleMime("the admin's own mail"));
    for (let i = 0; i < 3; i++) graph.addMessage(shared, sampleMime(`shared backlog ${i}`));
    const admin = await makeAdmin();
    oauth.scriptNextAuthorization({ provider: "microsoft", email: adminAccount });

    const started = await call("/api/oauth/microsoft/authorize", {
      method: "POST",
      cookie: admin.cookie,
      body: { email_type: "booking", mailbox_kind: "shared", shared_address: shared },
    });
    assert.equal(started.status, 200, started.text);
    const authorizationUrl = new URL(String(started.json().authorization_url));
    assert.deepEqual(authorizationUrl.searchParams.get("scope")?.split(" "), ["openid", "email", "profile", "offline_access", "Mail.Read", "Mail.ReadWrite", "Mail.ReadWrite.Shared"]);
    const approved = await fetch(authorizationUrl, { redirect: "manual" });
    assert.equal(approved.status, 302);
    const callback = await call(approved.headers.get("location") ?? "", { cookie: admin.cookie, accept: "application/json" });
    assert.equal(callback.status, 200, callback.text);
    assert.equal(callback.json().message, `Connected the shared mailbox ${shared} through ${adminAccount} with Microsoft.`);

    const row = await getMailbox({ tenantId: admin.tenantId, purpose: "booking" });
    assert.ok(row);
    assert.deepEqual({ kind: row.mailboxKind, address: row.address, via: row.oauthConnectedEmail }, { kind: "shared", address: shared, via: adminAccount });
    const mailboxId = row.id;
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 3, { timeoutMs: 20_000, what: "the shared backlog" });
    assert.equal((await getMailboxById({ mailboxId }))?.status, "connected");
    await waitFor(() => graph.messages(shared).every((m) => m.isRead), { timeoutMs: 10_000, what: "mark read in the shared mailbox" });
    assert.equal(graph.messages(adminAccount).every((m) => !m.isRead), true, "the admin's own mailbox is not touched");
    // Test: the admin's own token against /users/{shared}.
    assert.deepEqual(await testSaved(admin.cookie), { ok: true, folder: "INBOX", exists: 3, unseen: 0 });

    // Polling, not notifications: Graph offers none for shared mailboxes under delegated permissions.
    graph.addMessage(shared, sampleMime("shared live 1"));
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 4, { timeoutMs: 10_000, what: "new shared mail by delta polling" });
    assert.deepEqual(graph.subscriptions().filter((s) => s.user === shared), []);

    // Across expiries: refreshes ask for Mail.ReadWrite.Shared again (without it /users/{shared} is 403).
    await sleep((TOKEN_TTL_SECONDS + 2) * 1000);
    graph.addMessage(shared, sampleMime("shared live 2"));
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 5, { timeoutMs: 10_000, what: "shared mail after the token expired" });
    const refreshes = oauth.tokenRequests.filter((r) => r.provider === "microsoft" && r.grantType === "refresh_token" && r.outcome === "ok");
    assert.ok(refreshes.length >= 1, "the token was refreshed");
    assert.ok(refreshes.every((r) => r.scope?.split(" ").includes("Mail.ReadWrite.Shared")));
    assert.deepEqual(await subjectsOf(admin.tenantId), ["shared backlog 0", "shared backlog 1", "shared backlog 2", "shared live 1", "shared live 2"]);

    // The admin's Full Access is removed: a reason, then no retry loop.
    graph.revokeMailboxAccess(adminAccount, shared);
    const parked = await waitFor(async () => {
      const r = await getMailboxById({ mailboxId });
      return r?.status === "needs_reauth" ? r : null;
    }, { timeoutMs: 15_000, what: "needs_reauth after the right was removed" });
    assert.equal(
      parked.lastError,
      `${adminAccount} no longer has access to the shared mailbox ${shared} (Microsoft Graph ErrorAccessDenied). Give the account Full Access to the mailbox again, or reconnect with an account that has it.`,
    );
    const before = graph.requests.length;
    await sleep(3000);
    assert.equal(graph.requests.length, before, "a parked mailbox makes no more calls");
    assert.equal(await countMailboxMessages({ mailboxId }), 5);
    assert.deepEqual((await testSaved(admin.cookie)).error, {
      code: "needs_reauth",
      message: `Microsoft Graph refused access to ${shared} (HTTP 403).`,
    });
  });

  it("an app-only Graph mailbox: saved after a token check, backlog and pushed mail once, new tokens, removed access → needs_reauth", async () => {
    const mailbox = "frontdesk@contoso.test";
    const appId = randomUUID();
    const secret = `org-secret-${randomUUID()}`;
    const tenant = "contoso.test";
    oauth.consentApp({ clientId: appId, secret, tenant, roles: ["Mail.ReadWrite"] });
    graph.setAppAccessPolicy(appId, [mailbox]);
    for (let i = 0; i < 2; i++) graph.addMessage(mailbox, sampleMime(`app backlog ${i}`));
    const admin = await makeAdmin();
    const body = { mailbox_kind: "app_only", address: mailbox, tenant_id: tenant, client_id: appId, client_secret: secret };

    const wrong = await call("/api/tenant/email/organisation/booking", { method: "PUT", cookie: admin.cookie, body: { ...body, client_secret: "not-it" } });
    assert.equal(wrong.status, 400, wrong.text);
    assert.deepEqual(wrong.json().error, {
      code: "credentials_rejected",
      message: "Microsoft refused the app's client secret (invalid_client AADSTS7000215): it is wrong or has expired. Enter a new client secret.",
      details: { fields: { client_secret: "Microsoft refused the app's client secret (invalid_client AADSTS7000215): it is wrong or has expired. Enter a new client secret." } },
    });
    assert.equal(await getMailbox({ tenantId: admin.tenantId, purpose: "booking" }), null, "nothing saved");

    const saved = await call("/api/tenant/email/organisation/booking", { method: "PUT", cookie: admin.cookie, body });
    assert.equal(saved.status, 200, saved.text);
    const config = saved.json();
    assert.equal(config.mailbox_kind, "app_only");
    assert.deepEqual(config.organisation, {
      via_account: null,
      tenant_id: tenant,
      client_id: appId,
      has_client_secret: true,
      service_account_email: null,
      has_service_account_key: false,
      notifications: "push",
      admin_consent_url: `${oauth.url}/${tenant}/v2.0/adminconsent?client_id=${appId}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default`,
    });
    const cc = oauth.tokenRequests.filter((r) => r.grantType === "client_credentials" && r.clientId === appId);
    // The two of the save; the watcher, told of the new mailbox, may already have asked for its own.
    assert.deepEqual(cc.slice(0, 2).map((r) => [r.tenant, r.scope, r.outcome]), [
      [tenant, "https://graph.microsoft.com/.default", "invalid_client"],
      [tenant, "https://graph.microsoft.com/.default", "ok"],
    ]);
    const mailboxId = String((await getMailbox({ tenantId: admin.tenantId, purpose: "booking" }))?.id);
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 2, { timeoutMs: 20_000, what: "the app-only backlog" });
    const sub = await waitFor(() => graph.subscriptions().find((s) => s.user === mailbox) ?? null, { timeoutMs: 10_000, what: "a change-notification subscription" });
    assert.equal(sub.resource, `users/${encodeURIComponent(mailbox)}/mailFolders('inbox')/messages`);
    assert.equal(sub.creator, `app:${appId}`);

    graph.addMessage(mailbox, sampleMime("app pushed 1"));
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 3, { timeoutMs: 8000, what: "pushed mail (polling is 60 s)" });
    await sleep((TOKEN_TTL_SECONDS + 2) * 1000);
    graph.addMessage(mailbox, sampleMime("app pushed 2"));
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 4, { timeoutMs: 8000, what: "pushed mail after the token expired" });
    assert.ok(oauth.tokenRequests.filter((r) => r.grantType === "client_credentials" && r.clientId === appId && r.outcome === "ok").length >= 3, "new app tokens");
    await waitFor(() => graph.messages(mailbox).every((m) => m.isRead), { timeoutMs: 5000, what: "mark read" });
    assert.deepEqual(await subjectsOf(admin.tenantId), ["app backlog 0", "app backlog 1", "app pushed 1", "app pushed 2"]);
    // Test: a client-credentials token request, then one Graph read of the mailbox's inbox.
    const ccBefore = oauth.tokenRequests.filter((r) => r.grantType === "client_credentials" && r.clientId === appId).length;
    assert.deepEqual(await testSaved(admin.cookie), { ok: true, folder: "INBOX", exists: 4, unseen: 0 });
    assert.equal(oauth.tokenRequests.filter((r) => r.grantType === "client_credentials" && r.clientId === appId).length, ccBefore + 1);

    // The access policy no longer includes the mailbox.
    graph.setAppAccessPolicy(appId, ["someone-else@contoso.test"]);
    graph.addMessage(mailbox, sampleMime("app blocked"));
    const parked = await waitFor(async () => {
      const r = await getMailboxById({ mailboxId });
      return r?.status === "needs_reauth" ? r : null;
    }, { timeoutMs: 15_000, what: "needs_reauth after the policy change" });
    assert.equal(
      parked.lastError,
      `The app may not read ${mailbox} (Microsoft Graph ErrorAccessDenied): the Mail.ReadWrite application permission was removed, or an application access policy excludes this mailbox. Grant it again, then save the settings.`,
    );
    assert.equal(await countMailboxMessages({ mailboxId }), 4);
    assert.equal(((await testSaved(admin.cookie)).error as Json).code, "needs_reauth", "the Test button names the lost access");
  });

  it("a Workspace mailbox by domain-wide delegation: checked key, backlog and pushed mail once, new tokens, revoked delegation → needs_reauth", async () => {
    const mailbox = "bookings@hotel-group.test";
    const sa = oauth.addServiceAccount();
    oauth.addWorkspaceUser(mailbox);
    gmail.setPushEndpoint(`${app.url}/api/webhooks/gmail`, { authorization: async () => `Bearer ${await pubsubToken()}` });
    for (let i = 0; i < 2; i++) gmail.addMessage(mailbox, sampleMime(`dwd backlog ${i}`));
    const admin = await makeAdmin();
    const body = { mailbox_kind: "delegated", address: mailbox, service_account_key: JSON.stringify(sa.key) };

    // Before the Workspace admin allowed the client id: a field error that says what to do.
    const early = await call("/api/tenant/email/organisation/booking", { method: "PUT", cookie: admin.cookie, body });
    assert.equal(early.status, 400, early.text);
    assert.deepEqual(Object.keys(((early.json().error as Json).details as Json).fields as Json), ["service_account_key"]);
    assert.match(String((early.json().error as Json).message), new RegExp(`^Google refused domain-wide delegation \\(unauthorized_client\\): .*client id ${sa.clientId} must be allowed the scope ${GMAIL_MODIFY.replace(/[./]/g, "\\$&")}\\.$`));

    oauth.setDomainWideDelegation(sa.clientId, [GMAIL_MODIFY]);
    const saved = await call("/api/tenant/email/organisation/booking", { method: "PUT", cookie: admin.cookie, body });
    assert.equal(saved.status, 200, saved.text);
    assert.equal(saved.json().mailbox_kind, "delegated");
    assert.deepEqual(saved.json().organisation, {
      via_account: null,
      tenant_id: null,
      client_id: sa.clientId,
      has_client_secret: false,
      service_account_email: sa.clientEmail,
      has_service_account_key: true,
      notifications: "push",
      admin_consent_url: null,
    });
    const assertion = oauth.jwtAssertions.at(-1);
    assert.ok(assertion);
    assert.deepEqual(
      { iss: assertion.claims.iss, sub: assertion.claims.sub, scope: assertion.claims.scope, aud: assertion.claims.aud, life: Number(assertion.claims.exp) - Number(assertion.claims.iat) },
      { iss: sa.clientEmail, sub: mailbox, scope: GMAIL_MODIFY, aud: "https://oauth2.googleapis.com/token", life: 3600 },
    );
    const row = await getMailbox({ tenantId: admin.tenantId, purpose: "booking" });
    assert.ok(row);
    assert.ok(row.serviceAccountKeyEncrypted?.startsWith("gAAAAA"), "the key is stored Fernet-encrypted");
    assert.ok(!JSON.stringify(row).includes(sa.key.private_key ?? "-"), "no clear private key in the row");
    const mailboxId = row.id;

    await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 2, { timeoutMs: 20_000, what: "the delegated backlog" });
    await waitFor(async () => Boolean((await getMailboxById({ mailboxId }))?.syncState.gmailWatchExpiresAt), { timeoutMs: 10_000, what: "users.watch" });
    gmail.addMessage(mailbox, sampleMime("dwd pushed 1"));
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 3, { timeoutMs: 8000, what: "pushed Gmail mail (polling is 60 s)" });
    await sleep((TOKEN_TTL_SECONDS + 2) * 1000);
    gmail.addMessage(mailbox, sampleMime("dwd pushed 2"));
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 4, { timeoutMs: 8000, what: "pushed Gmail mail after the token expired" });
    const bearer = oauth.tokenRequests.filter((r) => r.grantType === "urn:ietf:params:oauth:grant-type:jwt-bearer" && r.clientId === sa.clientId && r.outcome === "ok");
    assert.ok(bearer.length >= 3, `new delegated tokens (${bearer.length})`);
    await waitFor(() => gmail.messages(mailbox).every((m) => !m.labelIds.includes("UNREAD")), { timeoutMs: 5000, what: "UNREAD removed" });
    assert.deepEqual(await subjectsOf(admin.tenantId), ["dwd backlog 0", "dwd backlog 1", "dwd pushed 1", "dwd pushed 2"]);
    // Test: a JWT-bearer token request for the mailbox, then one Gmail read of INBOX.
    const jwtBefore = oauth.jwtAssertions.length;
    assert.deepEqual(await testSaved(admin.cookie), { ok: true, folder: "INBOX", exists: 4, unseen: 0 });
    assert.equal(oauth.jwtAssertions.length, jwtBefore + 1);
    assert.equal(oauth.jwtAssertions.at(-1)?.claims.sub, mailbox);

    // The Workspace admin removes the delegation: the next token request is refused.
    oauth.setDomainWideDelegation(sa.clientId, null);
    await sleep(TOKEN_TTL_SECONDS * 1000);
    gmail.addMessage(mailbox, sampleMime("dwd after revoke"));
    const parked = await waitFor(async () => {
      const r = await getMailboxById({ mailboxId });
      return r?.status === "needs_reauth" ? r : null;
    }, { timeoutMs: 15_000, what: "needs_reauth after the delegation was removed" });
    assert.equal(
      parked.lastError,
      `Google refused domain-wide delegation (unauthorized_client): in the Admin console (Security > API controls > Domain-wide delegation) client id ${sa.clientId} must be allowed the scope ${GMAIL_MODIFY}.`,
    );
    assert.equal(await countMailboxMessages({ mailboxId }), 4);
    const refused = (await testSaved(admin.cookie)).error as Json;
    assert.equal(refused.code, "needs_reauth");
    assert.match(String(refused.message), /^Google refused domain-wide delegation \(unauthorized_client\)/);
  });

  it("no secret, key or token in any response or web log", () => {
    const secrets = oauth.issuedSecrets().filter((s) => s.length >= 16);
    assert.ok(secrets.length > 5);
    const text = [...bodies, ...app.logs].join("\n");
    for (const secret of secrets) {
      const probe = secret.includes("PRIVATE KEY") ? secret.split("\n")[1] ?? secret : secret;
      assert.ok(!text.includes(probe), "a secret leaked");
    }
  });
});
