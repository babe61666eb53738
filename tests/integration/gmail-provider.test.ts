/**
 * GmailProvider against the local Gmail API fake (tests/fakes/gmail-fake.ts), through googleapis'
 * own client with `rootUrl` pointed at the fake. No database.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, describe, it } from "node:test";
import { GmailProvider, type GmailProviderOptions } from "@/lib/email/gmail/gmail-provider";
import { parseGmailPushNotification } from "@/lib/email/gmail/gmail-push";
import { MailError, type FetchedMessage } from "@/lib/email/provider";
import { startGmailFake, type GmailFake } from "@/tests/fakes/gmail-fake";
import { sampleMime } from "@/tests/fakes/sample-mime";
import { BIG, drainProvider, makeProviderHarness, type ProviderHarness } from "@/tests/harness/api-provider-harness";

const TOKEN = "gmail-test-token";
let fake: GmailFake;
const providers: GmailProvider[] = [];

type Harness = ProviderHarness<GmailProvider>;

function makeProvider(overrides: Partial<GmailProviderOptions> = {}): Harness {
  const h = makeProviderHarness({ token: TOKEN, build: (options) => new GmailProvider({ rootUrl: fake.rootUrl, ...options, ...overrides }) });
  providers.push(h.provider);
  return h;
}

const drain = drainProvider;

/** Connected, baseline taken (new_only): nothing that is in the fake now will be fetched. */
async function ready(overrides: Partial<GmailProviderOptions> = {}): Promise<Harness> {
  const h = makeProvider(overrides);
  await h.provider.connect();
  await drain(h);
  return h;
}

const subjectOf = (m: FetchedMessage): string => /^Subject: (.*)$/m.exec(m.raw.toString("latin1"))?.[1]?.trim() ?? "";

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
  it("connects and verifies the label; the cursor is not written by connect", async () => {
    const { provider, saved } = makeProvider();
    await provider.connect();
    assert.equal(provider.isConnected, true);
    assert.equal(provider.emailAddress, fake.defaultUser);
    assert.deepEqual(saved, []);
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

  it("start mode new_only: nothing that is there now, then every new message read or unread", async () => {
    fake.addMessage(fake.defaultUser, sampleMime("old unread"));
    fake.addMessage(fake.defaultUser, sampleMime("old read"), { labelIds: ["INBOX"] });
    const h = makeProvider({ startMode: "new_only" });
    await h.provider.connect();
    const first = await h.provider.fetchNew({ maxCount: 50, maxBytes: BIG });
    assert.deepEqual(first.messages, []);
    assert.equal(first.more, false);
    assert.equal(first.cursor.gmailHistoryId, fake.currentHistoryId());
    const unread = fake.addMessage(fake.defaultUser, sampleMime("new unread"));
    const read = fake.addMessage(fake.defaultUser, sampleMime("new but read elsewhere"), { labelIds: ["INBOX"] });
    const { messages, batches } = await drain(h);
    assert.deepEqual(messages.map((m) => m.providerMessageId).sort(), [unread.id, read.id].sort());
    assert.equal(batches.at(-1)?.cursor.gmailHistoryId, fake.currentHistoryId());
  });

  it("start mode unread: the unread backlog oldest first with the exact raw bytes, in bounded batches; then marks it read", async () => {
    // Earlier tests' unread mail would be part of this baseline: read it "elsewhere" first.
    for (const m of fake.messages()) if (m.labelIds.includes("UNREAD")) fake.modifyLabels(fake.defaultUser, m.id, { remove: ["UNREAD"] });
    const base = Date.now() - 60_000;
    // 8-bit body bytes (ISO-8859-1 "é" and a raw 0xff) must survive base64url untouched.
    const raws = [0, 1, 2].map((i) => sampleMime(`backlog ${i}`, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0xff, 0x30 + i])));
    const added = raws.map((raw, i) => fake.addMessage(fake.defaultUser, raw, { internalDate: new Date(base + i * 1000) }));
    fake.addMessage(fake.defaultUser, sampleMime("already read"), { labelIds: ["INBOX"] });
    fake.addMessage(fake.defaultUser, sampleMime("in spam"), { labelIds: ["SPAM", "UNREAD"] });

    const h = makeProvider({ startMode: "unread" });
    await h.provider.connect();
    assert.equal((await h.provider.countStartCandidates({})).unread, 3);
    const atBaseline = fake.currentHistoryId();
    const firstTwo = await h.provider.fetchNew({ maxCount: 2, maxBytes: BIG });
    assert.deepEqual(firstTwo.messages.map((m) => m.providerMessageId), added.slice(0, 2).map((a) => a.id));
    // More waits: every batch commits the baseline's history id with what the queue still owes, so
    // a crash resumes the queue rather than asking for the unread mail again (first-import.ts).
    assert.equal(firstTwo.more, true);
    assert.equal(firstTwo.cursor.gmailHistoryId, atBaseline);
    assert.deepEqual(firstTwo.cursor.apiBaselineIds, [added[2]!.id]);
    assert.ok(firstTwo.cursor.apiBaselineAt && Date.parse(firstTwo.cursor.apiBaselineAt) <= Date.now());
    for (const m of firstTwo.messages) h.stored.add(m.providerMessageId);
    const rest = await h.provider.fetchNew({ maxCount: 2, maxBytes: BIG });
    assert.equal(rest.more, false);
    assert.equal(rest.cursor.gmailHistoryId, atBaseline);
    assert.equal(rest.cursor.apiBaselineIds, null);
    const all = [...firstTwo.messages, ...rest.messages];
    assert.equal(all.length, 3);
    all.forEach((m, i) => {
      assert.equal(m.providerMessageId, added[i]!.id);
      assert.ok(m.raw.equals(raws[i]!), "raw bytes equal");
      assert.equal(m.size, raws[i]!.length);
      assert.equal(m.tooLarge, undefined);
      assert.equal(m.receivedAt?.getTime(), base + i * 1000);
    });

    const before = h.provider.usage.quotaUnits;
    const startRequests = fake.requests.length;
    await h.provider.applyAfterIngest(all.map((m) => m.providerMessageId));
    // Three messages: three messages.modify (5 units each) are cheaper than one batchModify (50).
    assert.equal(h.provider.usage.quotaUnits - before, 15);
    assert.equal(fake.requests.slice(startRequests).filter((r) => r.path.endsWith("/modify")).length, 3);
    for (const a of added) {
      const m = fake.messages().find((x) => x.id === a.id);
      assert.ok(m && !m.labelIds.includes("UNREAD") && m.labelIds.includes("INBOX"));
    }
    // Our own mark-read (labelRemoved) is no new mail.
    assert.equal(await h.provider.waitForChange({ timeoutMs: 150, signal: new AbortController().signal }), "timeout");
  });

  it("mail added during a large first import comes with the next batch, ahead of the backlog; the final cursor covers it", async () => {
    for (const m of fake.messages()) if (m.labelIds.includes("UNREAD")) fake.modifyLabels(fake.defaultUser, m.id, { remove: ["UNREAD"] });
    const base = Date.now() - 60_000;
    const backlog = [0, 1, 2, 3, 4, 5].map((i) => fake.addMessage(fake.defaultUser, sampleMime(`old ${i}`), { internalDate: new Date(base + i * 1000) }));
    const h = makeProvider({ startMode: "unread", liveCheckMs: 0 });
    await h.provider.connect();
    const first = await h.provider.fetchNew({ maxCount: 2, maxBytes: BIG });
    assert.deepEqual(first.messages.map((m) => m.providerMessageId), backlog.slice(0, 2).map((a) => a.id));
    for (const m of first.messages) h.stored.add(m.providerMessageId);
    // Read elsewhere at once: discovery by history still finds it.
    const live = fake.addMessage(fake.defaultUser, sampleMime("live during import"), { labelIds: ["INBOX"] });
    const second = await h.provider.fetchNew({ maxCount: 2, maxBytes: BIG });
    assert.deepEqual(second.messages.map((m) => m.providerMessageId).sort(), [live.id, backlog[2]!.id].sort());
    assert.equal(second.more, true);
    // The history id moved past the live message, and the queue it covers is committed with it.
    assert.equal(second.cursor.gmailHistoryId, fake.currentHistoryId());
    assert.deepEqual(second.cursor.apiBaselineIds, backlog.slice(3).map((a) => a.id));
    for (const m of second.messages) h.stored.add(m.providerMessageId);
    const rest = await drain(h, { maxCount: 2 });
    assert.deepEqual(rest.messages.map((m) => m.providerMessageId), backlog.slice(3).map((a) => a.id));
    assert.equal(rest.batches.at(-1)?.cursor.gmailHistoryId, fake.currentHistoryId());
  });

  it("start mode since: everything received on/after the date, read or unread, nothing older", async () => {
    const base = Date.now() - 3 * 3600_000;
    const old = fake.addMessage(fake.defaultUser, sampleMime("since: too old"), { internalDate: new Date(base) });
    const read = fake.addMessage(fake.defaultUser, sampleMime("since: read"), { labelIds: ["INBOX"], internalDate: new Date(base + 3600_000) });
    const unread = fake.addMessage(fake.defaultUser, sampleMime("since: unread"), { internalDate: new Date(base + 2 * 3600_000) });
    const startSince = new Date(base + 1800_000);
    const h = makeProvider({ startMode: "since", startSince });
    await h.provider.connect();
    const counts = await h.provider.countStartCandidates({ since: startSince });
    assert.ok(counts.since !== null && counts.since >= 2);
    const { messages } = await drain(h);
    const ids = messages.map((m) => m.providerMessageId);
    assert.ok(ids.includes(read.id) && ids.includes(unread.id));
    assert.ok(!ids.includes(old.id));
    assert.ok(messages.every((m) => (m.receivedAt?.getTime() ?? 0) >= startSince.getTime()));
  });

  it("a message read elsewhere before the poll is still new (discovery by history, not UNREAD)", async () => {
    const h = await ready();
    const a = fake.addMessage(fake.defaultUser, sampleMime("read before poll"));
    const b = fake.addMessage(fake.defaultUser, sampleMime("unread before poll"));
    fake.modifyLabels(fake.defaultUser, a.id, { remove: ["UNREAD"] });
    const { messages } = await drain(h);
    assert.deepEqual(messages.map((m) => m.providerMessageId).sort(), [a.id, b.id].sort());
    const start = fake.requests.length;
    // The discovery never asks for the UNREAD label.
    await drain(h);
    assert.ok(fake.requests.slice(start).every((r) => !r.query.includes("UNREAD")));
    assert.ok(fake.requests.slice(start).some((r) => r.path.endsWith("/history") && r.query.includes("historyTypes=messageAdded")));
  });

  it("after-ingest none leaves the labels alone; move adds the label (by name) and removes the watched one", async () => {
    const none = await ready({ afterIngest: "none" });
    const x = fake.addMessage(fake.defaultUser, sampleMime("leave me"));
    const start = fake.requests.length;
    await none.provider.applyAfterIngest((await drain(none)).messages.map((m) => m.providerMessageId));
    assert.deepEqual(fake.messages().find((m) => m.id === x.id)?.labelIds, ["INBOX", "UNREAD"]);
    assert.equal(fake.requests.slice(start).filter((r) => r.method === "POST").length, 0);

    const labelId = fake.createLabel(fake.defaultUser, "Processed");
    const move = await ready({ afterIngest: "move", moveToFolder: "Processed" });
    const y = fake.addMessage(fake.defaultUser, sampleMime("move me"));
    const got = await drain(move);
    assert.deepEqual(got.messages.map((m) => m.providerMessageId), [y.id]);
    await move.provider.applyAfterIngest([y.id]);
    const labels = fake.messages().find((m) => m.id === y.id)?.labelIds ?? [];
    assert.ok(labels.includes(labelId) && !labels.includes("INBOX"), labels.join(","));
    // UNREAD stays: moving is not marking read.
    assert.ok(labels.includes("UNREAD"));
    assert.equal(await move.provider.waitForChange({ timeoutMs: 150, signal: new AbortController().signal }), "timeout");
    assert.deepEqual((await drain(move)).messages, []);

    const missing = await ready({ afterIngest: "move", moveToFolder: "No such label" });
    await assertMailError(missing.provider.applyAfterIngest([y.id]), "folder_missing");
  });

  it("each batch's cursor names its ids as after-ingest pending; a provider started with them applies them at connect", async () => {
    const h = await ready();
    const a = fake.addMessage(fake.defaultUser, sampleMime("pending 1"));
    const b = fake.addMessage(fake.defaultUser, sampleMime("pending 2"));
    const got = await drain(h);
    assert.deepEqual(got.batches.map((x) => [...(x.cursor.apiAfterIngestPending ?? [])].sort()), [[a.id, b.id].sort()]);
    assert.equal((await drain(h)).batches[0]?.cursor.apiAfterIngestPending, null);
    // The watcher was killed after committing that batch and before marking it read: the next start does it.
    assert.ok(fake.messages().find((m) => m.id === a.id)?.labelIds.includes("UNREAD"));
    const next = makeProvider({ syncState: { afterIngestPending: [a.id, b.id] } });
    await next.provider.connect();
    for (const id of [a.id, b.id]) assert.deepEqual(fake.messages().find((m) => m.id === id)?.labelIds, ["INBOX"]);
    assert.equal(next.provider.getHealthStatus().lastError, null);
  });

  it("marks ten or more messages read with one batchModify, split at 1000 ids", async () => {
    const h = await ready();
    const ids = Array.from({ length: 10 }, (_, i) => fake.addMessage(fake.defaultUser, sampleMime(`ten ${i}`)).id);
    const before = h.provider.usage.quotaUnits;
    await h.provider.applyAfterIngest(ids);
    assert.equal(h.provider.usage.quotaUnits - before, 50);
    assert.ok(ids.every((id) => !fake.messages().find((m) => m.id === id)?.labelIds.includes("UNREAD")));
    const start = fake.requests.length;
    await h.provider.applyAfterIngest(Array.from({ length: 1500 }, (_, i) => `ffff${i.toString(16).padStart(12, "0")}`));
    assert.equal(fake.requests.slice(start).filter((r) => r.path.endsWith("/messages/batchModify")).length, 2);
    await h.provider.applyAfterIngest([]);
    assert.equal(fake.requests.slice(start).filter((r) => r.path.endsWith("/messages/batchModify")).length, 2);
  });

  it("a message above maxMessageBytes comes back tooLarge with its headers only, never fetched raw", async () => {
    const h = await ready({ maxMessageBytes: 4096 });
    const big = fake.addMessage(fake.defaultUser, sampleMime("huge attachment", "x".repeat(20_000)));
    const small = fake.addMessage(fake.defaultUser, sampleMime("small after huge"));
    const start = fake.requests.length;
    const { messages } = await drain(h);
    assert.deepEqual(messages.map((m) => m.providerMessageId), [big.id, small.id]);
    const [tooLarge, normal] = messages;
    assert.equal(tooLarge?.tooLarge, true);
    assert.ok((tooLarge?.size ?? 0) > 20_000);
    const text = tooLarge!.raw.toString("utf8");
    assert.match(text, /^Subject: huge attachment$/m);
    assert.ok(text.endsWith("\r\n\r\n") && !text.includes("xxxx"));
    assert.equal(normal?.tooLarge, undefined);
    assert.equal(subjectOf(normal!), "small after huge");
    const rawGets = fake.requests.slice(start).filter((r) => r.query.includes("format=raw"));
    assert.equal(rawGets.length, 1);
  });

  it("bounds a batch by maxBytes (at least one message), with more=true until the queue is empty", async () => {
    const h = await ready();
    const ids = [0, 1, 2].map((i) => fake.addMessage(fake.defaultUser, sampleMime(`bytes ${i}`, "y".repeat(1000))).id);
    const start = fake.requests.length;
    const { batches } = await drain(h, { maxBytes: 1500 });
    assert.deepEqual(batches.map((b) => b.messages.length), [1, 1, 1]);
    // Each size is looked up once, though two of them waited for a later batch.
    assert.equal(fake.requests.slice(start).filter((r) => r.query.includes("format=metadata")).length, 3);
    assert.deepEqual(batches.map((b) => b.more), [true, true, false]);
    assert.deepEqual(batches.flatMap((b) => b.messages.map((m) => m.providerMessageId)), ids);
  });

  it("listRecent and fetchByIds serve the reconcile", async () => {
    const h = await ready();
    const since = new Date(Date.now() - 1000);
    const a = fake.addMessage(fake.defaultUser, sampleMime("recent a"));
    const b = fake.addMessage(fake.defaultUser, sampleMime("recent b"), { labelIds: ["INBOX"] });
    const recent = await h.provider.listRecent({ since, limit: 100 });
    assert.ok(recent.includes(a.id) && recent.includes(b.id));
    assert.equal((await h.provider.listRecent({ since, limit: 1 })).length, 1);
    const fetched = await h.provider.fetchByIds([b.id, "ffffffffffffffff"], { maxBytes: BIG });
    assert.deepEqual(fetched.map((m) => m.providerMessageId), [b.id]);
    assert.equal(subjectOf(fetched[0]!), "recent b");
  });

  it("waitForChange returns changed after a message arrives; the batch carries the new historyId", async () => {
    const h = await ready();
    assert.equal(await h.provider.waitForChange({ timeoutMs: 150, signal: new AbortController().signal }), "timeout");
    const waiting = h.provider.waitForChange({ timeoutMs: 30_000, signal: new AbortController().signal });
    setTimeout(() => fake.addMessage(fake.defaultUser, sampleMime("new arrival")), 100);
    assert.equal(await waiting, "changed");
    const { messages, batches } = await drain(h);
    assert.equal(messages.length, 1);
    assert.equal(batches.at(-1)?.cursor.gmailHistoryId, fake.currentHistoryId());
    await h.provider.applyAfterIngest(messages.map((m) => m.providerMessageId));
    // Our own mark-read (a labelRemoved record) is not a change.
    assert.equal(await h.provider.waitForChange({ timeoutMs: 200, signal: new AbortController().signal }), "timeout");
  });

  it("waitForChange returns changed at once after notifyChange, and closed on abort or disconnect", async () => {
    const { provider } = await ready({ pollIntervalMs: 60_000 });
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
    const h = await ready();
    fake.addMessage(fake.defaultUser, sampleMime("throttled"));
    fake.injectFault({ kind: "rate_limit_429", path: "/messages/", retryAfter: "1" });
    const startRequests = fake.requests.length;
    const startCalls = h.provider.usage.calls;
    const started = Date.now();
    const { messages } = await drain(h);
    const elapsed = Date.now() - started;
    assert.equal(messages.length, 1);
    // history → 200, metadata → 429, metadata again → 200, raw → 200.
    assert.deepEqual(
      fake.requests.slice(startRequests).map((r) => r.status),
      [200, 429, 200, 200],
    );
    assert.equal(h.provider.usage.calls - startCalls, 4);
    // Functional check that the server's Retry-After (1 s) was waited for, not a speed assertion.
    assert.ok(elapsed >= 900, `waited ${elapsed} ms`);
  });

  it("gives up with rate_limited (and the server's retryAfterMs) after 3 tries", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    fake.injectFault({ kind: "rate_limit_429", count: 3, path: "/labels/", retryAfter: "0" });
    const startCalls = provider.usage.calls;
    const err = await assertMailError(provider.countStartCandidates({}), "rate_limited");
    assert.equal(err.options.retryAfterMs, 0);
    assert.equal(provider.usage.calls - startCalls, 3);
    assert.ok(provider.getHealthStatus().lastError);
    assert.equal(typeof (await provider.countStartCandidates({})).unread, "number");
  });

  it("throws rate_limited at once when Retry-After is longer than the inline wait cap", async () => {
    const { provider } = makeProvider({ retry: { maxRetryAfterMs: 5_000 } });
    await provider.connect();
    fake.injectFault({ kind: "rate_limit_429", path: "/labels/", retryAfter: "120" });
    const startCalls = provider.usage.calls;
    const err = await assertMailError(provider.countStartCandidates({}), "rate_limited");
    assert.equal(err.options.retryAfterMs, 120_000);
    assert.equal(provider.usage.calls - startCalls, 1);
  });

  it("retries 403 rateLimitExceeded / userRateLimitExceeded and 503", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    fake.injectFault({ kind: "rate_limit_403", reason: "rateLimitExceeded", path: "/labels/" });
    fake.injectFault({ kind: "rate_limit_403", reason: "userRateLimitExceeded", path: "/labels/" });
    const startRequests = fake.requests.length;
    await provider.countStartCandidates({});
    assert.deepEqual(
      fake.requests.slice(startRequests).map((r) => r.status),
      [403, 403, 200],
    );
    fake.injectFault({ kind: "unavailable_503", path: "/labels/", retryAfter: "0" });
    const again = fake.requests.length;
    await provider.countStartCandidates({});
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
    const err = await assertMailError(provider.countStartCandidates({}), "needs_reauth");
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
    await assertMailError(provider.countStartCandidates({}), "needs_reauth");
    assert.equal(provider.usage.calls - startCalls, 1);
  });

  it("an expired history id (404) re-baselines by date window and stores nothing twice", async () => {
    const h = await ready();
    const before = fake.addMessage(fake.defaultUser, sampleMime("stored before expiry"));
    assert.equal((await drain(h)).messages.length, 1);
    assert.ok(h.stored.has(before.id));
    // As if this mailbox had stored everything earlier tests left in the shared fake.
    for (const m of fake.messages()) h.stored.add(m.id);
    const lost = fake.addMessage(fake.defaultUser, sampleMime("lost in pruned history"), { labelIds: ["INBOX"] });
    fake.expireHistory();
    const startRequests = fake.requests.length;
    assert.equal(await h.provider.waitForChange({ timeoutMs: 30_000, signal: new AbortController().signal }), "changed");
    assert.deepEqual(fake.requests.slice(startRequests).map((r) => `${r.path.split("/").at(-1)}:${r.status}`), ["history:404"]);
    const { messages, batches } = await drain(h);
    // The window (a day before the newest stored message) holds both; only the unknown one comes back.
    assert.deepEqual(messages.map((m) => m.providerMessageId), [lost.id]);
    assert.equal(batches.at(-1)?.cursor.gmailHistoryId, fake.currentHistoryId());
    assert.ok(fake.requests.slice(startRequests).some((r) => r.path.endsWith("/messages") && /q=after%3A\d+/.test(r.query)));
    assert.equal(await h.provider.waitForChange({ timeoutMs: 150, signal: new AbortController().signal }), "timeout");
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
    assert.equal(typeof (await provider.countStartCandidates({})).total, "number");
  });

  it("push: users.watch, a Pub/Sub push delivery, parseGmailPushNotification, notifyChange", async () => {
    const { provider } = await ready({ pollIntervalMs: 60_000 });
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
