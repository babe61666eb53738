/**
 * GraphProvider against the local Microsoft Graph fake (tests/fakes/graph-fake.ts), through the
 * real @microsoft/microsoft-graph-client with its baseUrl pointed at the fake. No database.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, describe, it } from "node:test";
import { GraphProvider, type GraphProviderOptions } from "@/lib/email/graph-provider";
import { handleGraphValidation, isSameClientState, parseGraphNotifications } from "@/lib/email/graph-notifications";
import { MailError } from "@/lib/email/provider";
import { startGraphFake, type GraphFake } from "../fakes/graph-fake";
import { sampleMime } from "../fakes/sample-mime";

const TOKEN = "graph-test-token";
let fake: GraphFake;
const providers: GraphProvider[] = [];

type Harness = { provider: GraphProvider; saved: string[]; tokenCalls: ({ forceRefresh?: boolean } | undefined)[] };

function makeProvider(overrides: Partial<GraphProviderOptions> = {}): Harness {
  const saved: string[] = [];
  const tokenCalls: ({ forceRefresh?: boolean } | undefined)[] = [];
  const provider = new GraphProvider({
    baseUrl: fake.baseUrl,
    getAccessToken: async (o) => {
      tokenCalls.push(o);
      return TOKEN;
    },
    onSyncState: async (s) => {
      if (s.graphDeltaLink) saved.push(s.graphDeltaLink);
    },
    pollIntervalMs: 50,
    retry: { baseDelayMs: 20 },
    ...overrides,
  });
  providers.push(provider);
  return { provider, saved, tokenCalls };
}

const signal = (): AbortSignal => new AbortController().signal;

function markAllReadInFake(): void {
  for (const m of fake.messages()) if (!m.isRead) fake.setRead(fake.defaultUser, m.id, true);
}

async function assertMailError(promise: Promise<unknown>, code: string): Promise<MailError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof MailError, `expected MailError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

/** A connected provider whose delta link is established and caught up. */
async function readyProvider(overrides: Partial<GraphProviderOptions> = {}): Promise<Harness> {
  const harness = makeProvider(overrides);
  await harness.provider.connect();
  markAllReadInFake();
  await harness.provider.waitForChange({ timeoutMs: 10, signal: signal() });
  await harness.provider.waitForChange({ timeoutMs: 10, signal: signal() });
  return harness;
}

before(async () => {
  fake = await startGraphFake({ tokens: [TOKEN] });
});

afterEach(async () => {
  for (const p of providers.splice(0)) await p.disconnect();
  fake.setValidTokens([TOKEN]);
});

after(async () => {
  await fake.close();
});

describe("GraphProvider", () => {
  it("connects with one call that checks token and folder", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    assert.equal(provider.isConnected, true);
    assert.deepEqual(provider.usage, { calls: 1, quotaUnits: 1 });
  });

  it("fails connect with folder_missing for an unknown folder id", async () => {
    const { provider } = makeProvider({ folder: "AQMkADdoesnotexistAAA=" });
    await assertMailError(provider.connect(), "folder_missing");
  });

  it("accepts a folder id as well as a well-known name", async () => {
    const { provider } = makeProvider({ folder: fake.inboxId });
    await provider.connect();
    assert.equal(typeof (await provider.countUnread()), "number");
  });

  it("fetches the unread backlog oldest first with the exact MIME bytes, then marks it read", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    markAllReadInFake();
    // Graph's receivedDateTime has whole seconds.
    const base = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
    // 8-bit bytes must survive: $value is served as text/plain, which a text decode would corrupt.
    const raws = [0, 1, 2].map((i) => sampleMime(`backlog ${i}`, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0xff, 0x30 + i])));
    // Added newest first, so only the provider's ordering can put them oldest first.
    const added = [2, 1, 0].map((i) => ({ i, ...fake.addMessage(fake.defaultUser, raws[i]!, { receivedDateTime: new Date(base + i * 60_000) }) }));
    const ids = [0, 1, 2].map((i) => added.find((a) => a.i === i)!.id);
    fake.addMessage(fake.defaultUser, sampleMime("already read"), { isRead: true });
    fake.addMessage(fake.defaultUser, sampleMime("other folder"), { folder: "archive" });

    assert.equal(await provider.countUnread(), 3);
    const firstTwo = await provider.fetchUnread({ maxCount: 2 });
    assert.deepEqual(
      firstTwo.map((m) => m.providerMessageId),
      ids.slice(0, 2),
    );
    const all = await provider.fetchUnread({ maxCount: 50 });
    assert.equal(all.length, 3);
    all.forEach((m, i) => {
      assert.equal(m.providerMessageId, ids[i]);
      assert.ok(m.raw.equals(raws[i]!), "raw bytes equal");
      assert.equal(m.receivedAt?.getTime(), base + i * 60_000);
    });

    const before = { ...provider.usage };
    await provider.markAsRead(all.map((m) => m.providerMessageId));
    // One $batch HTTP call carrying three PATCH requests.
    assert.equal(provider.usage.calls - before.calls, 1);
    assert.equal(provider.usage.quotaUnits - before.quotaUnits, 3);
    for (const id of ids) assert.equal(fake.messages().find((m) => m.id === id)?.isRead, true);
    assert.equal(await provider.countUnread(), 0);
    assert.deepEqual(await provider.fetchUnread({ maxCount: 50 }), []);
  });

  it("marks read in $batch chunks of 20, skips deleted messages and retries throttled items", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    markAllReadInFake();
    const ids = Array.from({ length: 25 }, (_, i) => fake.addMessage(fake.defaultUser, sampleMime(`bulk ${i}`)).id);
    fake.deleteMessage(fake.defaultUser, ids[3]!);
    fake.injectFault({ kind: "throttle_429", inBatch: true, path: "/me/messages/", count: 2, retryAfter: "0" });
    const start = fake.requests.length;
    await provider.markAsRead(ids);
    const log = fake.requests.slice(start);
    // 20 + 5, plus one more $batch for the two throttled items.
    assert.equal(log.filter((r) => r.path.endsWith("/$batch")).length, 3);
    assert.equal(log.filter((r) => r.batchItem && r.status === 429).length, 2);
    assert.equal(log.filter((r) => r.batchItem && r.status === 404).length, 1);
    for (const m of fake.messages()) assert.equal(m.isRead, true);
  });

  it("waitForChange: establishes a delta link, then returns changed after a message arrives", async () => {
    const { provider, saved } = makeProvider();
    await provider.connect();
    markAllReadInFake();
    // More than one delta page (100) of read mail: establishing follows @odata.nextLink.
    for (let i = 0; i < 120; i++) fake.addMessage(fake.defaultUser, sampleMime(`old ${i}`), { isRead: true });
    const start = fake.requests.length;
    assert.equal(await provider.waitForChange({ timeoutMs: 150, signal: signal() }), "timeout");
    const deltaCalls = fake.requests.slice(start).filter((r) => r.path.endsWith("/delta"));
    assert.ok(deltaCalls[0]?.query.includes("filter"), "a new delta query, limited by receivedDateTime");
    assert.ok(deltaCalls[1]?.query.includes("skiptoken"), "establishing followed @odata.nextLink");
    assert.ok(saved[0]?.includes("$deltatoken="), "delta link persisted");
    assert.equal(provider.currentDeltaLink?.startsWith(fake.baseUrl), true);

    const waiting = provider.waitForChange({ timeoutMs: 30_000, signal: signal() });
    setTimeout(() => fake.addMessage(fake.defaultUser, sampleMime("new arrival")), 100);
    assert.equal(await waiting, "changed");
    assert.equal(saved.at(-1), provider.currentDeltaLink);
    const fetched = await provider.fetchUnread({ maxCount: 10 });
    assert.equal(fetched.length, 1);
    await provider.markAsRead(fetched.map((m) => m.providerMessageId));
    // Our own isRead change shows in the delta as a read message: not a change.
    assert.equal(await provider.waitForChange({ timeoutMs: 200, signal: signal() }), "timeout");
  });

  it("reuses a stored delta link instead of establishing a new one", async () => {
    const first = await readyProvider();
    const link = first.provider.currentDeltaLink;
    assert.ok(link);
    const { provider } = makeProvider({ syncState: { deltaLink: link } });
    await provider.connect();
    const start = fake.requests.length;
    assert.equal(await provider.waitForChange({ timeoutMs: 10, signal: signal() }), "timeout");
    const delta = fake.requests.slice(start).filter((r) => r.path.endsWith("/delta"));
    assert.ok(delta.length >= 1);
    assert.ok(delta.every((r) => r.query.includes("deltatoken")), "only the stored link was polled");
  });

  it("an unread message already present when the delta is established counts as a change", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    markAllReadInFake();
    fake.addMessage(fake.defaultUser, sampleMime("arrived between fetch and delta"));
    assert.equal(await provider.waitForChange({ timeoutMs: 5_000, signal: signal() }), "changed");
    markAllReadInFake();
  });

  it("waitForChange returns changed at once after notifyChange, and closed on abort or disconnect", async () => {
    const { provider } = await readyProvider({ pollIntervalMs: 60_000 });
    const waiting = provider.waitForChange({ timeoutMs: 60_000, signal: signal() });
    setTimeout(() => provider.notifyChange(), 50);
    assert.equal(await waiting, "changed");
    provider.notifyChange();
    assert.equal(await provider.waitForChange({ timeoutMs: 60_000, signal: signal() }), "changed");

    const abort = new AbortController();
    const aborted = provider.waitForChange({ timeoutMs: 60_000, signal: abort.signal });
    setTimeout(() => abort.abort(), 50);
    assert.equal(await aborted, "closed");

    const closing = provider.waitForChange({ timeoutMs: 60_000, signal: signal() });
    setTimeout(() => void provider.disconnect(), 50);
    assert.equal(await closing, "closed");
  });

  it("recovers from an expired delta link (410 SyncStateNotFound) with a new delta and a changed result", async () => {
    const { provider, saved } = await readyProvider();
    const oldLink = provider.currentDeltaLink;
    fake.addMessage(fake.defaultUser, sampleMime("lost with the sync state"));
    fake.expireDeltaTokens();
    const start = fake.requests.length;
    assert.equal(await provider.waitForChange({ timeoutMs: 30_000, signal: signal() }), "changed");
    const statuses = fake.requests.slice(start).map((r) => r.status);
    assert.equal(statuses[0], 410);
    assert.ok(statuses.slice(1).every((s) => s === 200), "a new delta was established");
    assert.ok(fake.requests[start + 1]?.query.includes("filter"), "the new delta starts from scratch");
    assert.notEqual(provider.currentDeltaLink, oldLink);
    assert.equal(saved.at(-1), provider.currentDeltaLink);
    const fetched = await provider.fetchUnread({ maxCount: 10 });
    assert.equal(fetched.length, 1);
    await provider.markAsRead(fetched.map((m) => m.providerMessageId));
    assert.equal(await provider.waitForChange({ timeoutMs: 150, signal: signal() }), "timeout");
  });

  it("recovers from a 400 SyncStateInvalid as well", async () => {
    const { provider } = await readyProvider();
    fake.expireDeltaTokens({ status: 400, code: "SyncStateInvalid" });
    assert.equal(await provider.waitForChange({ timeoutMs: 30_000, signal: signal() }), "changed");
    assert.equal(await provider.waitForChange({ timeoutMs: 100, signal: signal() }), "timeout");
  });

  it("honours Retry-After on 429 and retries the same call", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    markAllReadInFake();
    fake.addMessage(fake.defaultUser, sampleMime("throttled"));
    fake.injectFault({ kind: "throttle_429", path: "/messages", retryAfter: "1" });
    const start = fake.requests.length;
    const calls = provider.usage.calls;
    const started = Date.now();
    const fetched = await provider.fetchUnread({ maxCount: 10 });
    const elapsed = Date.now() - started;
    assert.equal(fetched.length, 1);
    assert.deepEqual(
      fake.requests.slice(start).map((r) => r.status),
      [429, 200, 200],
    );
    assert.equal(provider.usage.calls - calls, 3);
    // Functional check that the server's Retry-After (1 s) was waited for, not a speed assertion.
    assert.ok(elapsed >= 900, `waited ${elapsed} ms`);
    markAllReadInFake();
  });

  it("gives up with rate_limited after 3 tries; retries 503 and 504", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    fake.injectFault({ kind: "throttle_429", count: 3, path: "/mailFolders/", retryAfter: "0" });
    const calls = provider.usage.calls;
    const err = await assertMailError(provider.countUnread(), "rate_limited");
    assert.equal(err.options.retryAfterMs, 0);
    assert.equal(provider.usage.calls - calls, 3);

    fake.injectFault({ kind: "unavailable_503", path: "/mailFolders/", retryAfter: "0" });
    fake.injectFault({ kind: "gateway_timeout_504", path: "/mailFolders/" });
    const start = fake.requests.length;
    assert.equal(typeof (await provider.countUnread()), "number");
    assert.deepEqual(
      fake.requests.slice(start).map((r) => r.status),
      [503, 504, 200],
    );
  });

  it("on 401 refreshes the token once (forceRefresh) and the call succeeds", async () => {
    let current = "stale-token";
    const tokenCalls: ({ forceRefresh?: boolean } | undefined)[] = [];
    const { provider } = makeProvider({
      getAccessToken: async (o) => {
        tokenCalls.push(o);
        if (o?.forceRefresh) current = "fresh-token";
        return current;
      },
    });
    fake.setValidTokens(["fresh-token"]);
    await provider.connect();
    assert.deepEqual(tokenCalls, [undefined, { forceRefresh: true }]);
    assert.equal(provider.usage.calls, 2);
  });

  it("a second 401 after the refresh is needs_reauth", async () => {
    const { provider, tokenCalls } = makeProvider();
    await provider.connect();
    fake.setValidTokens(["someone-elses-token"]);
    const err = await assertMailError(provider.countUnread(), "needs_reauth");
    assert.equal(err.isAuthFailure, true);
    assert.deepEqual(tokenCalls.at(-1), { forceRefresh: true });
    assert.equal(provider.isConnected, false);
  });

  it("403 ErrorAccessDenied is needs_reauth without retries", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    fake.injectFault({ kind: "access_denied_403", path: "/mailFolders/" });
    const calls = provider.usage.calls;
    await assertMailError(provider.countUnread(), "needs_reauth");
    assert.equal(provider.usage.calls - calls, 1);
  });

  it("never follows a delta link to a host other than the configured base URL", async () => {
    const { provider } = makeProvider({ syncState: { deltaLink: "https://graph.evil.example/v1.0/me/mailFolders('inbox')/messages/delta?$deltatoken=x" } });
    await provider.connect();
    const start = fake.requests.length;
    await assertMailError(provider.waitForChange({ timeoutMs: 1_000, signal: signal() }), "protocol");
    assert.equal(fake.requests.length, start);
  });

  it("maps an unreachable server to refused after retries", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { provider } = makeProvider({ baseUrl: `http://127.0.0.1:${port}/v1.0` });
    await assertMailError(provider.connect(), "refused");
    assert.equal(provider.usage.calls, 3);
  });

  it("retries a reset connection", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    fake.injectFault({ kind: "connection_reset", path: "/mailFolders/" });
    assert.equal(typeof (await provider.countUnread()), "number");
  });

  it("subscriptions: validation handshake, change notification → notifyChange, renew, delete", async () => {
    const { provider } = await readyProvider({ pollIntervalMs: 60_000 });
    const clientState = "s3cret-client-state";
    const notifications: unknown[] = [];
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const token = handleGraphValidation(url);
      if (token !== null) {
        res.writeHead(200, { "content-type": "text/plain" }).end(token);
        return;
      }
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        notifications.push(body);
        if ((parseGraphNotifications(body) ?? []).some((n) => isSameClientState(n.clientState, clientState))) provider.notifyChange();
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const notificationUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/graph/notifications`;
      const sub = await provider.createSubscription({ notificationUrl, clientState, expirationDateTime: new Date(Date.now() + 3600_000) });
      assert.equal(fake.subscriptions()[0]?.resource, "me/mailFolders('inbox')/messages");
      assert.ok(sub.expirationDateTime.getTime() > Date.now());

      const waiting = provider.waitForChange({ timeoutMs: 30_000, signal: signal() });
      setTimeout(() => fake.addMessage(fake.defaultUser, sampleMime("notified")), 50);
      assert.equal(await waiting, "changed");
      const parsed = parseGraphNotifications(notifications[0]);
      assert.equal(parsed?.[0]?.subscriptionId, sub.id);
      assert.equal(parsed?.[0]?.changeType, "created");
      assert.equal(isSameClientState(parsed?.[0]?.clientState ?? null, clientState), true);

      const renewed = await provider.renewSubscription(sub.id, new Date(Date.now() + 7200_000));
      assert.ok(renewed && renewed.expirationDateTime.getTime() > sub.expirationDateTime.getTime());
      await provider.deleteSubscription(sub.id);
      assert.deepEqual(fake.subscriptions(), []);
      assert.equal(await provider.renewSubscription(sub.id, new Date(Date.now() + 7200_000)), null);
      await provider.deleteSubscription(sub.id);
    } finally {
      markAllReadInFake();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("subscription creation fails when the endpoint does not echo the validation token", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    const server = http.createServer((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("nope"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const notificationUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      await assertMailError(
        provider.createSubscription({ notificationUrl, clientState: "x", expirationDateTime: new Date(Date.now() + 3600_000) }),
        "protocol",
      );
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
