/**
 * Push end to end: the built web app's /api/webhooks/{gmail,graph} routes, the watcher process,
 * PostgreSQL NOTIFY between them, and the Gmail / Graph fakes acting as Pub/Sub and as Graph's
 * notification sender. Pub/Sub's OIDC tokens are signed by a real OAuth/OIDC server package
 * (oauth2-mock-server), whose JWKS the app is pointed at in place of Google's.
 *
 * Polling is slowed to 60 s in this watcher, so mail that arrives within a few seconds came by push.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { OAuth2Server } from "oauth2-mock-server";
import pg from "pg";
import { startGmailFake, type GmailFake } from "@/tests/fakes/gmail-fake";
import { sampleMime } from "@/tests/fakes/sample-mime";
import { startGraphFake, type GraphFake } from "@/tests/fakes/graph-fake";
import { createApiMailbox } from "@/tests/harness/api-mailbox";
import { useFreshDatabase } from "@/tests/harness/database";
import { startTestWebApp, type TestWebApp } from "@/tests/harness/oauth-app";
import { waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";

const database = await useFreshDatabase();
const { getMailboxById, updateSyncState, updateMailboxAndNotify } = await import("@/lib/db/queries/mailboxes");
const { countMailboxMessages, listMessages } = await import("@/lib/db/queries/messages");
const { closeDb } = await import("@/lib/db/client");
const { deriveGraphClientState } = await import("@/lib/email/graph/graph-notifications");

const PUSH_ACCOUNT = "gmail-push@fake-project.iam.gserviceaccount.com";
const TOPIC = "projects/fake-project/topics/gmail";
const SESSION_SECRET = process.env.SESSION_SECRET ?? "push-test-session-secret";

let oidc: OAuth2Server;
/** Same issuer URL, other keys: what a forger without Google's private key could sign. */
let rogue: OAuth2Server;
let gmail: GmailFake;
let graph: GraphFake;
let app: TestWebApp;
let watcher: WatcherProcess;
let listener: pg.Client;
const notifications: { op: string; mailbox_id?: string; event?: string }[] = [];

type Claims = Record<string, unknown>;

async function pubsubToken(overrides: Claims = {}, signer: OAuth2Server = oidc, expiresIn = 3600): Promise<string> {
  return signer.issuer.buildToken({
    expiresIn,
    scopesOrTransform: (_header, payload) => {
      Object.assign(payload, { aud: `${app.url}/api/webhooks/gmail`, email: PUSH_ACCOUNT, email_verified: true, sub: "1234567890" }, overrides);
      delete payload.scope;
    },
  });
}

function pushEnvelope(data: unknown): Record<string, unknown> {
  return {
    message: { data: Buffer.from(JSON.stringify(data)).toString("base64"), messageId: "1", publishTime: new Date().toISOString() },
    subscription: "projects/fake-project/subscriptions/gmail-push",
  };
}

async function postGmailPush(body: unknown, authorization?: string): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (authorization) headers.authorization = authorization;
  return fetch(`${app.url}/api/webhooks/gmail`, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
}

function watcherEnv(): Record<string, string> {
  return {
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
    EMAIL_RECONCILE_SECONDS: "120",
    EMAIL_BACKOFF_MIN_SECONDS: "1",
    EMAIL_BACKOFF_MAX_SECONDS: "2",
  };
}

async function metricValue(name: string, labels: string): Promise<number> {
  const text = await watcher.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

/** NOTIFYs seen since `mark` (an index into `notifications`) that are push wake-ups. */
function pushesSince(mark: number): { mailbox_id?: string; event?: string }[] {
  return notifications.slice(mark).filter((n) => n.op === "push");
}

/** Gives a NOTIFY that should not come time to arrive, measured against one that must. */
async function settle(): Promise<void> {
  const mark = notifications.length;
  const probe = await fetch(`${app.url}/health`);
  assert.equal(probe.status, 200);
  await listener.query("SELECT pg_notify('mailbox_changed', '{\"op\":\"probe\"}')");
  await waitFor(() => notifications.slice(mark).some((n) => n.op === "probe"), { timeoutMs: 5000, what: "the probe NOTIFY" });
}

before(async () => {
  oidc = new OAuth2Server();
  await oidc.issuer.keys.generate("RS256");
  await oidc.start(0, "127.0.0.1");
  rogue = new OAuth2Server();
  await rogue.issuer.keys.generate("RS256");
  rogue.issuer.url = oidc.issuer.url;

  gmail = await startGmailFake({ tokens: [] });
  graph = await startGraphFake({ tokens: [] });
  app = await startTestWebApp({
    DATABASE_URL: database.url,
    SESSION_SECRET,
    GMAIL_PUSH_SERVICE_ACCOUNT: PUSH_ACCOUNT,
    GOOGLE_OIDC_JWKS_URL: `${oidc.issuer.url}/jwks`,
    GOOGLE_OIDC_ISSUER: oidc.issuer.url ?? "",
  });
  listener = new pg.Client({ connectionString: database.url });
  await listener.connect();
  listener.on("notification", (msg) => {
    if (msg.payload) notifications.push(JSON.parse(msg.payload) as { op: string });
  });
  await listener.query("LISTEN mailbox_changed");
  watcher = await startWatcherProcess(watcherEnv());
});

after(async () => {
  await watcher?.stop();
  await app?.stop();
  await listener?.end().catch(() => {});
  await gmail?.close();
  await graph?.close();
  await oidc?.stop();
  await closeDb();
  await database.drop();
});

describe("Gmail push (Pub/Sub authenticated push)", () => {
  const user = "push-a@gmail.test";
  let mailboxId: string;
  let tenantId: string;

  it("sets up users.watch on connect and ingests pushed mail at once", async () => {
    gmail.setValidTokens(["gmail-a"], user);
    gmail.setPushEndpoint(`${app.url}/api/webhooks/gmail`, { authorization: async () => `Bearer ${await pubsubToken()}` });
    ({ mailboxId, tenantId } = await createApiMailbox({ provider: "google", email: user, token: "gmail-a" }));
    const row = await waitFor(async () => {
      const r = await getMailboxById({ mailboxId });
      return r?.status === "connected" && r.syncState.gmailWatchExpiresAt ? r : null;
    }, { timeoutMs: 15_000, what: "the mailbox to connect and watch" });
    assert.deepEqual(gmail.watches(user).map((w) => ({ topicName: w.topicName, labelIds: w.labelIds })), [{ topicName: TOPIC, labelIds: ["INBOX"] }]);
    assert.ok(Date.parse(row.syncState.gmailWatchExpiresAt ?? "") > Date.now() + 6 * 24 * 3600_000);
    assert.ok(Date.parse(row.syncState.gmailWatchRenewedAt ?? "") <= Date.now());

    const mark = notifications.length;
    gmail.addMessage(user, sampleMime("pushed to gmail"));
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 1, { timeoutMs: 10_000, what: "the pushed Gmail message" });
    // The watcher may store the mail before the route's 204 reaches the fake.
    await waitFor(() => gmail.pushResults.includes(204), { timeoutMs: 5000, what: "the push to be acknowledged with 204" });
    assert.deepEqual(pushesSince(mark).find((n) => n.mailbox_id === mailboxId), { op: "push", mailbox_id: mailboxId, event: "changed" });
    assert.ok((await metricValue("push_notifications_total", 'event="changed"')) >= 1);
    await waitFor(() => gmail.messages(user).every((m) => !m.labelIds.includes("UNREAD")), { timeoutMs: 5000, what: "UNREAD removed" });
  });

  it("renews the watch in the loop once it is due", async () => {
    const user = "push-b@gmail.test";
    gmail.setValidTokens(["gmail-b"], user);
    // Due an hour before expiry: a watch that lives 1 h + 1.5 s is due 1.5 s after it was made.
    gmail.setWatchLifetime(3600_000 + 1500);
    const watchCalls = (): number => gmail.requests.filter((r) => r.method === "POST" && r.path.endsWith("/watch")).length;
    try {
      const { mailboxId } = await createApiMailbox({ provider: "google", email: user, token: "gmail-b" });
      const first = await waitFor(async () => {
        const r = await getMailboxById({ mailboxId });
        return r?.status === "connected" && r.syncState.gmailWatchRenewedAt ? r.syncState.gmailWatchRenewedAt : null;
      }, { timeoutMs: 15_000, what: "the first watch" });
      const callsAfterConnect = watchCalls();
      await new Promise((r) => setTimeout(r, 1600));
      // A push wakes the loop; its next poll round finds the watch due and renews it.
      gmail.addMessage(user, sampleMime("wakes the loop"));
      await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 1, { timeoutMs: 10_000, what: "the pushed message" });
      const renewed = await waitFor(async () => {
        const at = (await getMailboxById({ mailboxId }))?.syncState.gmailWatchRenewedAt;
        return at && at !== first ? at : null;
      }, { timeoutMs: 10_000, what: "the watch renewal" });
      assert.ok(Date.parse(renewed) > Date.parse(first));
      assert.ok(watchCalls() > callsAfterConnect);
    } finally {
      gmail.setWatchLifetime(7 * 24 * 3600_000);
    }
  });

  it("refuses pushes not signed for our push subscription, and wakes nobody", async () => {
    // A watched account with no mail activity: any wake-up for it could only come from these requests.
    const quiet = "push-quiet@gmail.test";
    gmail.setValidTokens(["gmail-quiet"], quiet);
    const { mailboxId: quietId } = await createApiMailbox({ provider: "google", email: quiet, token: "gmail-quiet" });
    await waitFor(async () => (await getMailboxById({ mailboxId: quietId }))?.status === "connected", { timeoutMs: 15_000, what: "the quiet mailbox" });
    const body = pushEnvelope({ emailAddress: quiet, historyId: "99999" });
    const mark = notifications.length;
    const cases: [string, string | undefined][] = [
      ["no token", undefined],
      ["not a bearer token", "Basic dXNlcjpwYXNz"],
      ["garbage", "Bearer not.a.jwt"],
      ["signed by other keys", `Bearer ${await pubsubToken({}, rogue)}`],
      ["other audience", `Bearer ${await pubsubToken({ aud: "https://elsewhere.example/push" })}`],
      ["other issuer", `Bearer ${await pubsubToken({ iss: "https://issuer.example" })}`],
      ["other service account", `Bearer ${await pubsubToken({ email: "someone@else.iam.gserviceaccount.com" })}`],
      ["unverified email", `Bearer ${await pubsubToken({ email_verified: false })}`],
      ["expired", `Bearer ${await pubsubToken({}, oidc, -120)}`],
    ];
    for (const [name, authorization] of cases) {
      const res = await postGmailPush(body, authorization);
      assert.equal(res.status, 401, name);
      const json = (await res.json()) as { error: { code: string } };
      assert.equal(json.error.code, "unauthorized", name);
    }
    // Authentic but not a Gmail notification: 400, never a crash.
    const valid = `Bearer ${await pubsubToken()}`;
    for (const bad of ["{oops", { message: { data: "!!" }, subscription: "s" }, pushEnvelope({ historyId: "1" })]) {
      assert.equal((await postGmailPush(bad, valid)).status, 400, JSON.stringify(bad));
    }
    // Authentic, for an account nobody here watches: acknowledged (or Pub/Sub retries for a week), no wake-up.
    assert.equal((await postGmailPush(pushEnvelope({ emailAddress: "nobody@gmail.test", historyId: "5" }), valid)).status, 204);
    await settle();
    assert.deepEqual(pushesSince(mark).filter((n) => n.mailbox_id === quietId), []);
    // The same push, properly signed, does wake it: the refusals above were the token's doing.
    assert.equal((await postGmailPush(body, valid)).status, 204);
    await waitFor(() => pushesSince(mark).some((n) => n.mailbox_id === quietId), { timeoutMs: 5000, what: "the authentic push" });
    for (const line of app.logs) assert.ok(!line.includes(valid.slice(7)), "the push token must not be logged");
  });

  it("stops the watch when the mailbox is disabled", async () => {
    assert.equal(gmail.watches(user).length, 1);
    await updateMailboxAndNotify({ mailboxId, tenantId, fields: { enabled: false } });
    await waitFor(() => gmail.watches(user).length === 0, { timeoutMs: 10_000, what: "users.stop" });
    assert.equal((await getMailboxById({ mailboxId }))?.syncState.gmailWatchExpiresAt, "");
  });
});

describe("Microsoft Graph change notifications", () => {
  let mailboxId: string;
  let tenantId: string;

  it("subscribes through the validation handshake and ingests notified mail at once", async () => {
    const user = "push-c@contoso.test";
    graph.setValidTokens(["graph-c"], user);
    ({ mailboxId, tenantId } = await createApiMailbox({ provider: "microsoft", email: user, token: "graph-c" }));
    const row = await waitFor(async () => {
      const r = await getMailboxById({ mailboxId });
      return r?.status === "connected" && r.syncState.graphSubscriptionId ? r : null;
    }, { timeoutMs: 15_000, what: "the mailbox to connect and subscribe" });
    const [sub] = graph.subscriptions().filter((s) => s.user === user);
    assert.ok(sub);
    assert.equal(sub.id, row.syncState.graphSubscriptionId);
    assert.equal(sub.notificationUrl, `${app.url}/api/webhooks/graph`);
    assert.equal(sub.lifecycleNotificationUrl, `${app.url}/api/webhooks/graph`);
    assert.equal(sub.clientState, deriveGraphClientState({ mailboxId, secret: SESSION_SECRET }));
    assert.equal(sub.resource, "me/mailFolders('inbox')/messages");
    const lifetime = Date.parse(sub.expirationDateTime) - Date.now();
    assert.ok(lifetime > 55 * 60_000 && lifetime <= 60 * 60_000, `lifetime ${lifetime}`);

    graph.addMessage(user, sampleMime("notified by graph"));
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 1, { timeoutMs: 10_000, what: "the notified Graph message" });
    await waitFor(() => graph.messages(user).every((m) => m.isRead), { timeoutMs: 5000, what: "isRead set" });
  });

  it("answers validation requests and ignores forged or unknown notifications", async () => {
    const token = "Validation: Testing client application reachability for subscription Request-Id: 6e1e4f0e <&> ü";
    const echo = await fetch(`${app.url}/api/webhooks/graph?validationToken=${encodeURIComponent(token)}`, { method: "POST" });
    assert.equal(echo.status, 200);
    assert.match(echo.headers.get("content-type") ?? "", /^text\/plain/);
    assert.equal(await echo.text(), token);

    const subscriptionId = (await getMailboxById({ mailboxId }))?.syncState.graphSubscriptionId ?? "";
    const post = (body: unknown): Promise<Response> =>
      fetch(`${app.url}/api/webhooks/graph`, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
    const mark = notifications.length;
    const forged = { subscriptionId, changeType: "created", resource: "Users/x/Messages/y", clientState: "guessed" };
    assert.equal((await post({ value: [forged] })).status, 202);
    assert.equal((await post({ value: [{ ...forged, clientState: undefined }] })).status, 202);
    const otherMailboxState = deriveGraphClientState({ mailboxId: "00000000-0000-4000-8000-000000000000", secret: SESSION_SECRET });
    assert.equal((await post({ value: [{ ...forged, clientState: otherMailboxState }] })).status, 202);
    assert.equal((await post({ value: [{ ...forged, subscriptionId: "unknown-subscription" }] })).status, 202);
    assert.equal((await post("{oops")).status, 400);
    assert.equal((await post({ nope: true })).status, 400);
    await settle();
    assert.deepEqual(pushesSince(mark).filter((n) => n.mailbox_id === mailboxId), []);
  });

  it("handles lifecycle events: reauthorize renews, removal resubscribes, missed catches up", async () => {
    const user = "push-c@contoso.test";
    const first = (await getMailboxById({ mailboxId }))?.syncState.graphSubscriptionId ?? "";
    const patches = (): number => graph.requests.filter((r) => r.method === "PATCH" && r.path.includes(`/subscriptions/${first}`)).length;
    const before = patches();
    assert.equal(await graph.sendLifecycleEvent(first, "reauthorizationRequired"), 202);
    await waitFor(() => patches() > before, { timeoutMs: 10_000, what: "the subscription renewal" });

    assert.equal(await graph.sendLifecycleEvent(first, "subscriptionRemoved"), 202);
    const second = await waitFor(async () => {
      const id = (await getMailboxById({ mailboxId }))?.syncState.graphSubscriptionId;
      return id && id !== first ? id : null;
    }, { timeoutMs: 10_000, what: "a new subscription" });
    assert.deepEqual(graph.subscriptions().filter((s) => s.user === user).map((s) => s.id), [second]);
    graph.addMessage(user, sampleMime("after resubscribe"));
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 2, { timeoutMs: 10_000, what: "mail on the new subscription" });

    const missedBefore = await metricValue("push_notifications_total", 'event="missed"');
    assert.equal(await graph.sendLifecycleEvent(second, "missed"), 202);
    await waitFor(async () => (await metricValue("push_notifications_total", 'event="missed"')) > missedBefore, { timeoutMs: 5000, what: "the missed event" });
  });

  it("after a restart renews the stored subscription (no second one) and ingests nothing twice", async () => {
    const user = "push-c@contoso.test";
    const current = (await getMailboxById({ mailboxId }))?.syncState.graphSubscriptionId ?? "";
    await watcher.stop();
    // Past half its lifetime: the restarted watcher must renew this one rather than create another.
    await updateSyncState({ mailboxId, patch: { graphSubscriptionExpiresAt: new Date(Date.now() + 10 * 60_000).toISOString() } });
    graph.addMessage(user, sampleMime("while the watcher was down"));
    watcher = await startWatcherProcess(watcherEnv());
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 3, { timeoutMs: 15_000, what: "mail sent while down" });
    const renewed = await waitFor(async () => {
      const s = (await getMailboxById({ mailboxId }))?.syncState;
      return s && Date.parse(s.graphSubscriptionExpiresAt ?? "") > Date.now() + 50 * 60_000 ? s : null;
    }, { timeoutMs: 10_000, what: "the renewed subscription" });
    assert.equal(renewed.graphSubscriptionId, current);
    assert.deepEqual(graph.subscriptions().filter((s) => s.user === user).map((s) => s.id), [current]);
    graph.addMessage(user, sampleMime("after the restart"));
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 4, { timeoutMs: 10_000, what: "notified mail after the restart" });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await countMailboxMessages({ mailboxId }), 4);
    const subjects = (await listMessages({ tenantId, limit: 10 })).map((m) => m.subject);
    assert.equal(new Set(subjects).size, 4);
  });

  it("deletes the subscription when the mailbox is disabled", async () => {
    const user = "push-c@contoso.test";
    assert.equal(graph.subscriptions().filter((s) => s.user === user).length, 1);
    await updateMailboxAndNotify({ mailboxId, tenantId, fields: { enabled: false } });
    await waitFor(() => graph.subscriptions().filter((s) => s.user === user).length === 0, { timeoutMs: 10_000, what: "the subscription deleted" });
    assert.equal((await getMailboxById({ mailboxId }))?.syncState.graphSubscriptionId, "");
  });
});
