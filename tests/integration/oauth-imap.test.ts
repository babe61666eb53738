/**
 * The watcher process reads an OAuth-connected mailbox over IMAP with XOAUTH2/OAUTHBEARER against a
 * private Dovecot whose oauth2 passdb checks tokens at the local OAuth server (RFC 7662
 * introspection). The mailbox is connected through the real HTTP flow (authorize -> provider ->
 * callback) and then pointed at Dovecot instead of imap.gmail.com.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { useFreshDatabase } from "@/tests/harness/database";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { startTestWebApp, type TestWebApp } from "@/tests/harness/oauth-app";
import { startOAuthServer, type OAuthTestServer } from "@/tests/harness/oauth-server";
import { waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";
import { waitForMailboxStatus } from "@/tests/harness/imap-mailbox";

const execFileAsync = promisify(execFile);
const database = await useFreshDatabase();
const oauth: OAuthTestServer = await startOAuthServer();
const TOKEN_TTL_SECONDS = 8;
const SKEW_SECONDS = 3;
Object.assign(process.env, oauth.env(), { OAUTH_REFRESH_SKEW_SECONDS: String(SKEW_SECONDS) });

const { hashPassword } = await import("@/lib/auth/password");
const { createTenantWithAdmin } = await import("@/lib/db/queries/tenants");
const { getMailbox, getMailboxById, updateMailboxAndNotify } = await import("@/lib/db/queries/mailboxes");
const { countMailboxMessages, listMessages } = await import("@/lib/db/queries/messages");
const { listRecentEvents } = await import("@/lib/db/queries/mailbox-events");
const { closeDb } = await import("@/lib/db/client");

const PASSWORD = "oauth-imap-password";
let app: TestWebApp;
let dovecot: DovecotInstance;
let watcher: WatcherProcess;

/** Connects `purpose` of a new tenant with Google over IMAP through the HTTP flow, then aims it at Dovecot. */
async function connectOverImap(email: string): Promise<{ tenantId: string; mailboxId: string }> {
  const adminEmail = `imap-admin-${randomUUID().slice(0, 8)}@hotel.test`;
  const { tenant } = await createTenantWithAdmin({ name: "IMAP OAuth Hotel", email: adminEmail, passwordHash: await hashPassword(PASSWORD) });
  const loginRes = await fetch(`${app.url}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: app.url },
    body: JSON.stringify({ email: adminEmail, password: PASSWORD }),
  });
  assert.equal(loginRes.status, 200);
  const cookie = (loginRes.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const authorize = await fetch(`${app.url}/api/oauth/google/authorize`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: app.url, cookie },
    body: JSON.stringify({ email_type: "booking", access: "imap" }),
  });
  assert.equal(authorize.status, 200);
  const { authorization_url } = (await authorize.json()) as { authorization_url: string };
  oauth.scriptNextAuthorization({ provider: "google", email });
  const atProvider = await fetch(authorization_url, { redirect: "manual" });
  const callback = await fetch(atProvider.headers.get("location") ?? "", { headers: { cookie, accept: "application/json" } });
  assert.equal(callback.status, 200, await callback.clone().text());
  const mailbox = await getMailbox({ tenantId: tenant.id, purpose: "booking" });
  assert.ok(mailbox);
  assert.equal(mailbox.host, "imap.gmail.com");
  // Same mailbox, but served by the local Dovecot instead of Gmail.
  await updateMailboxAndNotify({
    mailboxId: mailbox.id,
    tenantId: tenant.id,
    fields: { host: dovecot.host, port: dovecot.imapPort, useSsl: false, tlsMode: "none" },
  });
  return { tenantId: tenant.id, mailboxId: mailbox.id };
}

const activeLoginsOf = (email: string): string[] =>
  [...new Set(oauth.introspections.filter((i) => i.active && i.username === email).map((i) => i.token))];

before(async () => {
  dovecot = await startDovecot({ oauth2IntrospectionUrl: oauth.introspectionUrl });
  app = await startTestWebApp({ ...oauth.env(), DATABASE_URL: database.url });
  // Short-lived access tokens so that expiry happens within the test.
  oauth.setAccessTokenTtl(TOKEN_TTL_SECONDS);
  watcher = await startWatcherProcess({
    ...process.env,
    ...oauth.env(),
    DATABASE_URL: database.url,
    OAUTH_REFRESH_SKEW_SECONDS: String(SKEW_SECONDS),
    EMAIL_BACKOFF_MIN_SECONDS: "1",
    EMAIL_BACKOFF_MAX_SECONDS: "2",
    EMAIL_RECONCILE_SECONDS: "60",
  });
});

after(async () => {
  await watcher?.stop();
  await app?.stop();
  await dovecot?.stop();
  await oauth.stop();
  await closeDb();
  await database.drop();
});

describe("OAuth mailbox over IMAP (XOAUTH2) in the watcher process", () => {
  it("logs in with the access token, ingests mail, renews the session with a fresh token before the old one expires, and keeps ingesting", async () => {
    const email = "carol@gmail.test";
    await dovecot.addUser(email, "unused-password");
    const { mailboxId } = await connectOverImap(email);
    await waitForMailboxStatus(mailboxId, "connected");
    // (Before it was pointed at Dovecot, the watcher may have tried imap.gmail.com, unreachable here.)
    const connectedAt = new Date();
    assert.equal(activeLoginsOf(email).length, 1, "one XOAUTH2 login, checked by introspection");

    await dovecot.append(email, makeMessage({ subject: "First booking" }));
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) >= 1, { timeoutMs: 10_000, what: "first message" });

    // The first token lives 8 s; 3 s before it ends, the watcher refreshes and logs in again.
    const refreshesBefore = oauth.tokenRequests.filter((r) => r.grantType === "refresh_token" && r.outcome === "ok").length;
    await waitFor(() => activeLoginsOf(email).length >= 2, { timeoutMs: 20_000, what: "a second login with a fresh token" });
    assert.ok(oauth.tokenRequests.filter((r) => r.grantType === "refresh_token" && r.outcome === "ok").length > refreshesBefore);
    await new Promise((r) => setTimeout(r, TOKEN_TTL_SECONDS * 1000)); // the first token is now expired

    await dovecot.append(email, makeMessage({ subject: "After the first token expired" }));
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) >= 2, { timeoutMs: 10_000, what: "second message" });
    const subjects = (await listMessages({ tenantId: (await getMailboxById({ mailboxId }))!.tenantId, limit: 10 })).map((m) => m.subject);
    assert.deepEqual(subjects.sort(), ["After the first token expired", "First booking"]);
    const row = await getMailboxById({ mailboxId });
    assert.equal(row?.status, "connected");
    const events = await listRecentEvents({ mailboxId, limit: 50 });
    const errors = events.filter((e) => (e.kind === "error" || e.kind === "auth_failed") && e.createdAt >= connectedAt);
    assert.deepEqual(errors.map((e) => `${e.kind}: ${e.message}`), [], "renewal is seamless: no error recorded");
    assert.ok(events.some((e) => e.kind === "token_refreshed"));
    const metrics = await watcher.metrics();
    const refreshes = Number(/^oauth_token_refreshes_total (\d+)/m.exec(metrics)?.[1] ?? "0");
    assert.ok(refreshes >= 1, "the watcher counts its token refreshes");
  });

  it("when the server ends the session (as Outlook does at token expiry), the watcher reconnects with a fresh token and mail still arrives", async () => {
    const email = "dave@gmail.test";
    await dovecot.addUser(email, "unused-password");
    const { mailboxId } = await connectOverImap(email);
    await waitForMailboxStatus(mailboxId, "connected");
    const loginsBefore = activeLoginsOf(email).length;
    // Let the token used for the login expire, then drop the session from the server side.
    await new Promise((r) => setTimeout(r, TOKEN_TTL_SECONDS * 1000 + 500));
    await execFileAsync("doveadm", ["-c", path.join(dovecot.dir, "dovecot.conf"), "kick", email]).catch(() => undefined);
    await dovecot.append(email, makeMessage({ subject: "Arrived around the kick" }));
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) >= 1, { timeoutMs: 20_000, what: "message after reconnect" });
    assert.ok(activeLoginsOf(email).length > loginsBefore);
    // Every login the server accepted used an unexpired token.
    const tokensAccepted = oauth.introspections.filter((i) => i.username === email && i.active);
    assert.ok(tokensAccepted.length >= 2);
    await waitForMailboxStatus(mailboxId, "connected");
  });

  it("a revoked grant ends in needs_reauth without a retry storm", async () => {
    const email = "erin@gmail.test";
    await dovecot.addUser(email, "unused-password");
    const { mailboxId } = await connectOverImap(email);
    await waitForMailboxStatus(mailboxId, "connected");
    oauth.revokeGrant(email);
    await waitForMailboxStatus(mailboxId, "needs_reauth", 25_000);
    const failedRefreshes = (): number =>
      oauth.tokenRequests.filter((r) => r.grantType === "refresh_token" && r.outcome === "invalid_grant").length;
    const after = failedRefreshes();
    const loginsAfter = oauth.introspections.filter((i) => i.username === email).length;
    await new Promise((r) => setTimeout(r, 6000));
    assert.equal(failedRefreshes(), after, "no further refresh attempts");
    assert.equal(oauth.introspections.filter((i) => i.username === email).length, loginsAfter, "no further logins");
    const row = await getMailboxById({ mailboxId });
    assert.equal(row?.status, "needs_reauth");
    assert.equal(row?.oauthRefreshTokenEncrypted, null);
    assert.equal(row?.lastError, "Access to the mailbox was revoked or has expired. Reconnect it with Google.");
    assert.equal(row?.lastErrorCode, "needs_reauth");
    // Recorded once, by the mailbox connection (the only writer of status and events), with the provider's refusal.
    const authFailures = (await listRecentEvents({ mailboxId, limit: 50 })).filter((e) => e.kind === "auth_failed");
    assert.equal(authFailures.length, 1);
    assert.equal(authFailures[0]?.message, "Google refused the refresh token (invalid_grant).");
    const logs = watcher.logs.join("\n");
    for (const secret of oauth.issuedSecrets()) assert.ok(!logs.includes(secret), "a token appears in the watcher's logs");
  });
});
