/**
 * GmailProvider against the local Gmail API fake (tests/fakes/gmail-fake.ts), through googleapis'
 * own client with `rootUrl` pointed at the fake. No database.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, describe, it } from "node:test";
import { GmailProvider, type GmailProviderOptions } from "@/lib/email/gmail-provider";
import { parseGmailPushNotification } from "@/lib/email/gmail-push";
import { MailError } from "@/lib/email/provider";
import { startGmailFake, type GmailFake } from "../fakes/gmail-fake";
import { sampleMime } from "../fakes/sample-mime";

const TOKEN = "gmail-test-token";
let fake: GmailFake;
const providers: GmailProvider[] = [];

type Harness = { provider: GmailProvider; saved: string[]; tokenCalls: ({ forceRefresh?: boolean } | undefined)[] };

function makeProvider(overrides: Partial<GmailProviderOptions> = {}): Harness {
  const saved: string[] = [];
  const tokenCalls: ({ forceRefresh?: boolean } | undefined)[] = [];
  const provider = new GmailProvider({
    rootUrl: fake.rootUrl,
    getAccessToken: async (o) => {
      tokenCalls.push(o);
      return TOKEN;
    },
    onSyncState: async (s) => {
      if (s.gmailHistoryId) saved.push(s.gmailHistoryId);
    },
    pollIntervalMs: 50,
    // Small backoff so a test without Retry-After does not sleep for seconds.
    retry: { baseDelayMs: 20 },
    ...overrides,
  });
  providers.push(provider);
  return { provider, saved, tokenCalls };
}

/** Empties the fake's mailbox view for a test: every test works on the messages it adds itself. */
async function markAllRead(provider: GmailProvider): Promise<void> {
  const ids = fake.messages().filter((m) => m.labelIds.includes("UNREAD")).map((m) => m.id);
  if (ids.length) await provider.markAsRead(ids);
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

before(async () => {
  fake = await startGmailFake({ tokens: [TOKEN] });
});

afterEach(async () => {
  for (const p of providers.splice(0)) await p.disconnect();
  fake.setValidTokens([TOKEN]);
});

after(async () => {
  await fake.close();
});

describe("GmailProvider", () => {
  it("connects, verifies the label and stores the current historyId when none is stored", async () => {
    const { provider, saved } = makeProvider();
    await provider.connect();
    assert.equal(provider.isConnected, true);
    assert.equal(provider.emailAddress, fake.defaultUser);
    assert.deepEqual(saved, [fake.currentHistoryId()]);
    assert.deepEqual(provider.usage, { calls: 2, quotaUnits: 2 });
    assert.equal(provider.getHealthStatus().connected, true);
  });

  it("keeps a stored historyId on connect", async () => {
    const { provider, saved } = makeProvider({ syncState: { historyId: "42" } });
    await provider.connect();
    assert.deepEqual(saved, []);
    assert.equal(provider.currentHistoryId, "42");
  });

  it("fails connect with folder_missing for an unknown label", async () => {
    const { provider } = makeProvider({ label: "Label_does_not_exist" });
    await assertMailError(provider.connect(), "folder_missing");
    assert.equal(provider.isConnected, false);
  });

  it("fetches the unread backlog oldest first with the exact raw bytes, then marks it read", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    await markAllRead(provider);
    const base = Date.now() - 60_000;
    // 8-bit body bytes (ISO-8859-1 "é" and a raw 0xff) must survive base64url untouched.
    const raws = [0, 1, 2].map((i) => sampleMime(`backlog ${i}`, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0xff, 0x30 + i])));
    const added = raws.map((raw, i) => fake.addMessage(fake.defaultUser, raw, { internalDate: new Date(base + i * 1000) }));
    fake.addMessage(fake.defaultUser, sampleMime("already read"), { labelIds: ["INBOX"] });
    fake.addMessage(fake.defaultUser, sampleMime("in spam"), { labelIds: ["SPAM", "UNREAD"] });

    assert.equal(await provider.countUnread(), 3);
    const firstTwo = await provider.fetchUnread({ maxCount: 2 });
    assert.deepEqual(
      firstTwo.map((m) => m.providerMessageId),
      added.slice(0, 2).map((a) => a.id),
    );
    const all = await provider.fetchUnread({ maxCount: 50 });
    assert.equal(all.length, 3);
    all.forEach((m, i) => {
      assert.equal(m.providerMessageId, added[i]!.id);
      assert.ok(m.raw.equals(raws[i]!), "raw bytes equal");
      assert.equal(m.receivedAt?.getTime(), base + i * 1000);
    });

    const before = provider.usage.quotaUnits;
    const startRequests = fake.requests.length;
    await provider.markAsRead(all.map((m) => m.providerMessageId));
    // Three messages: three messages.modify (5 units each) are cheaper than one batchModify (50).
    assert.equal(provider.usage.quotaUnits - before, 15);
    assert.equal(fake.requests.slice(startRequests).filter((r) => r.path.endsWith("/modify")).length, 3);
    for (const a of added) {
      const stored = fake.messages().find((m) => m.id === a.id);
      assert.ok(stored && !stored.labelIds.includes("UNREAD") && stored.labelIds.includes("INBOX"));
    }
    assert.equal(await provider.countUnread(), 0);
    assert.deepEqual(await provider.fetchUnread({ maxCount: 50 }), []);
  });

  it("marks ten or more messages read with one batchModify", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    await markAllRead(provider);
    const ids = Array.from({ length: 10 }, (_, i) => fake.addMessage(fake.defaultUser, sampleMime(`ten ${i}`)).id);
    const before = provider.usage.quotaUnits;
    await provider.markAsRead(ids);
    assert.equal(provider.usage.quotaUnits - before, 50);
    assert.ok(fake.messages().every((m) => !m.labelIds.includes("UNREAD")));
  });

  it("splits markAsRead into batchModify calls of at most 1000 ids", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    const start = fake.requests.length;
    await provider.markAsRead(Array.from({ length: 1500 }, (_, i) => `ffff${i.toString(16).padStart(12, "0")}`));
    const calls = fake.requests.slice(start).filter((r) => r.path.endsWith("/messages/batchModify"));
    assert.equal(calls.length, 2);
    await provider.markAsRead([]);
    assert.equal(fake.requests.slice(start).filter((r) => r.path.endsWith("/messages/batchModify")).length, 2);
  });

  it("waitForChange returns changed after a message arrives and persists the new historyId", async () => {
    const { provider, saved } = makeProvider();
    await provider.connect();
    await markAllRead(provider);
    // Catch up on whatever earlier tests left in the history.
    await provider.waitForChange({ timeoutMs: 100, signal: new AbortController().signal });
    assert.equal(await provider.waitForChange({ timeoutMs: 150, signal: new AbortController().signal }), "timeout");

    const waiting = provider.waitForChange({ timeoutMs: 30_000, signal: new AbortController().signal });
    setTimeout(() => fake.addMessage(fake.defaultUser, sampleMime("new arrival")), 100);
    assert.equal(await waiting, "changed");
    assert.equal(saved.at(-1), fake.currentHistoryId());
    const fetched = await provider.fetchUnread({ maxCount: 10 });
    assert.equal(fetched.length, 1);
    await provider.markAsRead(fetched.map((m) => m.providerMessageId));
    // Our own markAsRead (a labelRemoved record) is not a change.
    assert.equal(await provider.waitForChange({ timeoutMs: 200, signal: new AbortController().signal }), "timeout");
  });

  it("waitForChange returns changed at once after notifyChange, and closed on abort or disconnect", async () => {
    const { provider } = makeProvider({ pollIntervalMs: 60_000 });
    await provider.connect();
    await markAllRead(provider);
    await provider.waitForChange({ timeoutMs: 10, signal: new AbortController().signal });

    const waiting = provider.waitForChange({ timeoutMs: 60_000, signal: new AbortController().signal });
    setTimeout(() => provider.notifyChange(), 50);
    assert.equal(await waiting, "changed");

    // A notification between two waits is not lost.
    provider.notifyChange();
    assert.equal(await provider.waitForChange({ timeoutMs: 60_000, signal: new AbortController().signal }), "changed");

    const abort = new AbortController();
    const aborted = provider.waitForChange({ timeoutMs: 60_000, signal: abort.signal });
    setTimeout(() => abort.abort(), 50);
    assert.equal(await aborted, "closed");

    const closing = provider.waitForChange({ timeoutMs: 60_000, signal: new AbortController().signal });
    setTimeout(() => void provider.disconnect(), 50);
    assert.equal(await closing, "closed");
    assert.equal(provider.isConnected, false);
  });

  it("honours Retry-After on 429 and retries the same call", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    await markAllRead(provider);
    fake.addMessage(fake.defaultUser, sampleMime("throttled"));
    fake.injectFault({ kind: "rate_limit_429", path: "/messages", retryAfter: "1" });
    const startRequests = fake.requests.length;
    const startCalls = provider.usage.calls;
    const started = Date.now();
    const fetched = await provider.fetchUnread({ maxCount: 10 });
    const elapsed = Date.now() - started;
    assert.equal(fetched.length, 1);
    // list → 429, list again → 200, get → 200.
    assert.deepEqual(
      fake.requests.slice(startRequests).map((r) => r.status),
      [429, 200, 200],
    );
    assert.equal(provider.usage.calls - startCalls, 3);
    // Functional check that the server's Retry-After (1 s) was waited for, not a speed assertion.
    assert.ok(elapsed >= 900, `waited ${elapsed} ms`);
  });

  it("gives up with rate_limited (and the server's retryAfterMs) after 3 tries", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    fake.injectFault({ kind: "rate_limit_429", count: 3, path: "/labels/", retryAfter: "0" });
    const startCalls = provider.usage.calls;
    const err = await assertMailError(provider.countUnread(), "rate_limited");
    assert.equal(err.options.retryAfterMs, 0);
    assert.equal(provider.usage.calls - startCalls, 3);
    assert.ok(provider.getHealthStatus().lastError);
    assert.equal(typeof (await provider.countUnread()), "number");
  });

  it("throws rate_limited at once when Retry-After is longer than the inline wait cap", async () => {
    const { provider } = makeProvider({ retry: { maxRetryAfterMs: 5_000 } });
    await provider.connect();
    fake.injectFault({ kind: "rate_limit_429", path: "/labels/", retryAfter: "120" });
    const startCalls = provider.usage.calls;
    const err = await assertMailError(provider.countUnread(), "rate_limited");
    assert.equal(err.options.retryAfterMs, 120_000);
    assert.equal(provider.usage.calls - startCalls, 1);
  });

  it("retries 403 rateLimitExceeded / userRateLimitExceeded and 503", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    fake.injectFault({ kind: "rate_limit_403", reason: "rateLimitExceeded", path: "/labels/" });
    fake.injectFault({ kind: "rate_limit_403", reason: "userRateLimitExceeded", path: "/labels/" });
    const startRequests = fake.requests.length;
    await provider.countUnread();
    assert.deepEqual(
      fake.requests.slice(startRequests).map((r) => r.status),
      [403, 403, 200],
    );
    fake.injectFault({ kind: "unavailable_503", path: "/labels/", retryAfter: "0" });
    const again = fake.requests.length;
    await provider.countUnread();
    assert.deepEqual(
      fake.requests.slice(again).map((r) => r.status),
      [503, 200],
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
    assert.deepEqual(tokenCalls.slice(0, 2), [undefined, { forceRefresh: true }]);
    assert.equal(provider.isConnected, true);
    assert.equal(tokenCalls.filter((c) => c?.forceRefresh).length, 1);
  });

  it("a second 401 after the refresh is needs_reauth", async () => {
    const { provider, tokenCalls } = makeProvider();
    await provider.connect();
    fake.setValidTokens(["someone-elses-token"]);
    const startCalls = provider.usage.calls;
    const err = await assertMailError(provider.countUnread(), "needs_reauth");
    assert.equal(err.isAuthFailure, true);
    assert.equal(provider.usage.calls - startCalls, 2);
    assert.deepEqual(tokenCalls.at(-1), { forceRefresh: true });
    assert.equal(provider.isConnected, false);
  });

  it("a grant without the Gmail scope is needs_reauth without retries", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    fake.injectFault({ kind: "insufficient_scope_403", path: "/labels/" });
    const startCalls = provider.usage.calls;
    await assertMailError(provider.countUnread(), "needs_reauth");
    assert.equal(provider.usage.calls - startCalls, 1);
  });

  it("recovers from history 404 (startHistoryId too old) with a fresh cursor and a changed result", async () => {
    const { provider, saved } = makeProvider();
    await provider.connect();
    await markAllRead(provider);
    await provider.waitForChange({ timeoutMs: 10, signal: new AbortController().signal });
    fake.addMessage(fake.defaultUser, sampleMime("lost in pruned history"));
    fake.expireHistory();
    const startRequests = fake.requests.length;
    assert.equal(await provider.waitForChange({ timeoutMs: 30_000, signal: new AbortController().signal }), "changed");
    const log = fake.requests.slice(startRequests).map((r) => `${r.path.split("/").at(-1)}:${r.status}`);
    assert.deepEqual(log, ["history:404", "profile:200"]);
    assert.equal(saved.at(-1), fake.currentHistoryId());
    // The full resync finds the message; afterwards the new cursor works.
    const fetched = await provider.fetchUnread({ maxCount: 10 });
    assert.equal(fetched.length, 1);
    await provider.markAsRead(fetched.map((m) => m.providerMessageId));
    assert.equal(await provider.waitForChange({ timeoutMs: 150, signal: new AbortController().signal }), "timeout");
  });

  it("maps an unreachable server to a network-class MailError after retries", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { provider } = makeProvider({ rootUrl: `http://127.0.0.1:${port}` });
    const err = await assertMailError(provider.connect(), "refused");
    assert.equal(err.isAuthFailure, false);
    assert.equal(provider.usage.calls, 3);
  });

  it("retries a reset connection", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    fake.injectFault({ kind: "connection_reset", path: "/labels/" });
    assert.equal(typeof (await provider.countUnread()), "number");
  });

  it("push: users.watch, a Pub/Sub push delivery, parseGmailPushNotification, notifyChange", async () => {
    const { provider } = makeProvider({ pollIntervalMs: 60_000 });
    await provider.connect();
    await markAllRead(provider);
    await provider.waitForChange({ timeoutMs: 10, signal: new AbortController().signal });

    const received: unknown[] = [];
    const push = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        received.push(body);
        const note = parseGmailPushNotification(body);
        if (note && note.emailAddress === provider.emailAddress) provider.notifyChange();
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => push.listen(0, "127.0.0.1", resolve));
    try {
      fake.setPushEndpoint(`http://127.0.0.1:${(push.address() as AddressInfo).port}/gmail/push`);
      const before = provider.usage.quotaUnits;
      const watch = await provider.startWatch({ topicName: "projects/fake-project/topics/gmail" });
      assert.equal(provider.usage.quotaUnits - before, 100);
      assert.equal(watch.historyId, fake.currentHistoryId());
      assert.ok(watch.expiration.getTime() > Date.now());
      assert.deepEqual(fake.watches()[0]?.labelIds, ["INBOX"]);

      const waiting = provider.waitForChange({ timeoutMs: 30_000, signal: new AbortController().signal });
      setTimeout(() => fake.addMessage(fake.defaultUser, sampleMime("pushed")), 50);
      assert.equal(await waiting, "changed");
      assert.ok(received.length >= 1);
      assert.equal(parseGmailPushNotification(received[0])?.emailAddress, fake.defaultUser);
      await provider.stopWatch();
      assert.deepEqual(fake.watches(), []);
    } finally {
      fake.setPushEndpoint(null);
      await new Promise<void>((resolve) => push.close(() => resolve()));
    }
  });
});
