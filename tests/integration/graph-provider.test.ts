/**
 * GraphProvider against the local Microsoft Graph fake (tests/fakes/graph-fake.ts), through the
 * real @microsoft/microsoft-graph-client with its baseUrl pointed at the fake. No database.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, describe, it } from "node:test";
import { GraphProvider, type GraphProviderOptions } from "@/lib/email/graph/graph-provider";
import { handleGraphValidation, isSameClientState, parseGraphNotifications } from "@/lib/email/graph/graph-notifications";
import { MailError, type FetchedMessage } from "@/lib/email/provider";
import { startGraphFake, type GraphFake } from "@/tests/fakes/graph-fake";
import { sampleMime } from "@/tests/fakes/sample-mime";
import { BIG, drainProvider, makeProviderHarness, type ProviderHarness } from "@/tests/harness/api-provider-harness";

const TOKEN = "graph-test-token";
let fake: GraphFake;
const providers: GraphProvider[] = [];

type Harness = ProviderHarness<GraphProvider>;

function makeProvider(overrides: Partial<GraphProviderOptions> = {}): Harness {
  const h = makeProviderHarness({ token: TOKEN, build: (options) => new GraphProvider({ baseUrl: fake.baseUrl, ...options, ...overrides }) });
  providers.push(h.provider);
  return h;
}

const drain = drainProvider;

const signal = (): AbortSignal => new AbortController().signal;

function markAllReadInFake(): void {
  for (const m of fake.messages()) if (!m.isRead) fake.setRead(fake.defaultUser, m.id, true);
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

/** Connected, baseline taken (new_only): nothing in the fake now will be fetched. */
async function ready(overrides: Partial<GraphProviderOptions> = {}): Promise<Harness> {
  const h = makeProvider(overrides);
  await h.provider.connect();
  await drain(h);
  return h;
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
    const { provider, saved } = makeProvider();
    await provider.connect();
    assert.equal(provider.isConnected, true);
    assert.deepEqual(provider.usage, { calls: 1, quotaUnits: 1 });
    assert.deepEqual(saved, []);
  });

  it("fails connect with folder_missing for an unknown folder id", async () => {
    const { provider } = makeProvider({ folder: "AQMkADdoesnotexistAAA=" });
    await assertMailError(provider.connect(), "folder_missing");
  });

  it("accepts a folder id as well as a well-known name", async () => {
    const { provider } = makeProvider({ folder: fake.inboxId });
    await provider.connect();
    assert.equal(typeof (await provider.countStartCandidates({})).unread, "number");
  });

  it("start mode unread: the unread backlog oldest first with the exact MIME bytes, in bounded batches; then marks it read", async () => {
    markAllReadInFake();
    // Graph's receivedDateTime has whole seconds.
    const base = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
    // 8-bit bytes must survive: $value is served as text/plain, which a text decode would corrupt.
    const raws = [0, 1, 2].map((i) => sampleMime(`backlog ${i}`, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0xff, 0x30 + i])));
    // Added newest first, so only the provider's ordering can put them oldest first.
    const added = [2, 1, 0].map((i) => ({ i, ...fake.addMessage(fake.defaultUser, raws[i]!, { receivedDateTime: new Date(base + i * 60_000) }) }));
    const ids = [0, 1, 2].map((i) => added.find((a) => a.i === i)!.id);
    // In the past: mail received in the very second of the baseline is imported whatever its flag
    // (receivedDateTime has whole seconds; one message too many beats one lost).
    fake.addMessage(fake.defaultUser, sampleMime("already read"), { isRead: true, receivedDateTime: new Date(base) });
    fake.addMessage(fake.defaultUser, sampleMime("other folder"), { folder: "archive", receivedDateTime: new Date(base) });

    const h = makeProvider({ startMode: "unread" });
    await h.provider.connect();
    assert.equal((await h.provider.countStartCandidates({})).unread, 3);
    const firstTwo = await h.provider.fetchNew({ maxCount: 2, maxBytes: BIG });
    assert.deepEqual(firstTwo.messages.map((m) => m.providerMessageId), ids.slice(0, 2));
    assert.equal(firstTwo.more, true);
    // Every batch commits the baseline's delta link with what the queue still owes (first-import.ts).
    assert.ok(firstTwo.cursor.graphDeltaLink?.includes("$deltatoken="));
    assert.deepEqual(firstTwo.cursor.apiBaselineIds, ids.slice(2));
    assert.ok(firstTwo.cursor.apiBaselineAt && Date.parse(firstTwo.cursor.apiBaselineAt) <= Date.now());
    for (const m of firstTwo.messages) h.stored.add(m.providerMessageId);
    const rest = await h.provider.fetchNew({ maxCount: 2, maxBytes: BIG });
    assert.equal(rest.more, false);
    assert.ok(rest.cursor.graphDeltaLink?.includes("$deltatoken="));
    assert.equal(rest.cursor.apiBaselineIds, null);
    const all = [...firstTwo.messages, ...rest.messages];
    all.forEach((m, i) => {
      assert.equal(m.providerMessageId, ids[i]);
      assert.ok(m.raw.equals(raws[i]!), "raw bytes equal");
      assert.equal(m.size, raws[i]!.length);
      assert.equal(m.receivedAt?.getTime(), base + i * 60_000);
    });

    const before = { ...h.provider.usage };
    await h.provider.applyAfterIngest(all.map((m) => m.providerMessageId));
    // One $batch HTTP call carrying three PATCH requests.
    assert.equal(h.provider.usage.calls - before.calls, 1);
    assert.equal(h.provider.usage.quotaUnits - before.quotaUnits, 3);
    for (const id of ids) assert.equal(fake.messages().find((m) => m.id === id)?.isRead, true);
    // Our own isRead PATCH shows in the delta as "updated" entries of stored ids: not new mail.
    assert.equal(await h.provider.waitForChange({ timeoutMs: 200, signal: signal() }), "timeout");
    assert.deepEqual((await drain(h)).messages, []);
  });

  it("mail arriving during a large first import comes with the next batch, ahead of the backlog; the final delta link covers it", async () => {
    markAllReadInFake();
    const base = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
    const backlog = [0, 1, 2, 3, 4, 5].map((i) => fake.addMessage(fake.defaultUser, sampleMime(`old ${i}`), { receivedDateTime: new Date(base + i * 60_000) }));
    const h = makeProvider({ startMode: "unread", liveCheckMs: 0 });
    await h.provider.connect();
    const first = await h.provider.fetchNew({ maxCount: 2, maxBytes: BIG });
    assert.deepEqual(first.messages.map((m) => m.providerMessageId), backlog.slice(0, 2).map((a) => a.id));
    for (const m of first.messages) h.stored.add(m.providerMessageId);
    // Read elsewhere at once: the delta covers read mail too.
    const live = fake.addMessage(fake.defaultUser, sampleMime("live during import"));
    fake.setRead(fake.defaultUser, live.id, true);
    const second = await h.provider.fetchNew({ maxCount: 2, maxBytes: BIG });
    assert.deepEqual(second.messages.map((m) => m.providerMessageId).sort(), [live.id, backlog[2]!.id].sort());
    assert.equal(second.more, true);
    // The delta link moved past the live message, and the queue it covers is committed with it.
    assert.ok(second.cursor.graphDeltaLink && second.cursor.graphDeltaLink !== first.cursor.graphDeltaLink);
    assert.deepEqual(second.cursor.apiBaselineIds, backlog.slice(3).map((a) => a.id));
    for (const m of second.messages) h.stored.add(m.providerMessageId);
    const rest = await drain(h, { maxCount: 2 });
    assert.deepEqual(rest.messages.map((m) => m.providerMessageId), backlog.slice(3).map((a) => a.id));
    assert.ok(rest.batches.at(-1)?.cursor.graphDeltaLink?.includes("$deltatoken="));
    // The final delta link is past the live message: the next poll finds nothing.
    assert.deepEqual((await drain(h)).messages, []);
  });

  it("start mode new_only: nothing that is there now, then every new message read or unread", async () => {
    fake.addMessage(fake.defaultUser, sampleMime("old unread"), { receivedDateTime: new Date(Date.now() - 60_000) });
    const h = makeProvider({ startMode: "new_only" });
    await h.provider.connect();
    const first = await h.provider.fetchNew({ maxCount: 50, maxBytes: BIG });
    assert.deepEqual(first.messages, []);
    assert.ok(first.cursor.graphDeltaLink);
    const unread = fake.addMessage(fake.defaultUser, sampleMime("new unread"));
    const read = fake.addMessage(fake.defaultUser, sampleMime("new, read elsewhere"), { isRead: true });
    const { messages } = await drain(h);
    assert.deepEqual(messages.map((m) => m.providerMessageId).sort(), [unread.id, read.id].sort());
  });

  it("start mode since: everything received on/after the date, read or unread, nothing older", async () => {
    const base = Math.floor(Date.now() / 1000) * 1000 - 3 * 3600_000;
    const old = fake.addMessage(fake.defaultUser, sampleMime("since: old"), { receivedDateTime: new Date(base) });
    const read = fake.addMessage(fake.defaultUser, sampleMime("since: read"), { isRead: true, receivedDateTime: new Date(base + 3600_000) });
    const unread = fake.addMessage(fake.defaultUser, sampleMime("since: unread"), { receivedDateTime: new Date(base + 2 * 3600_000) });
    const startSince = new Date(base + 1800_000);
    const h = makeProvider({ startMode: "since", startSince });
    await h.provider.connect();
    const ids = (await drain(h)).messages.map((m) => m.providerMessageId);
    assert.ok(ids.includes(read.id) && ids.includes(unread.id));
    assert.ok(!ids.includes(old.id));
    assert.ok((await h.provider.countStartCandidates({ since: startSince })).since! >= 2);
  });

  it("a message read elsewhere before the poll is still new (delta over all messages, no isRead filter)", async () => {
    const h = await ready();
    const a = fake.addMessage(fake.defaultUser, sampleMime("read before poll"));
    const b = fake.addMessage(fake.defaultUser, sampleMime("unread before poll"));
    fake.setRead(fake.defaultUser, a.id, true);
    const start = fake.requests.length;
    const { messages } = await drain(h);
    assert.deepEqual(messages.map((m) => m.providerMessageId).sort(), [a.id, b.id].sort());
    assert.ok(fake.requests.slice(start).every((r) => !decodeURIComponent(r.query).includes("isRead")));
  });

  it("each batch's cursor names its ids as after-ingest pending; a provider started with them applies them at connect", async () => {
    const h = await ready();
    const a = fake.addMessage(fake.defaultUser, sampleMime("pending 1"));
    const b = fake.addMessage(fake.defaultUser, sampleMime("pending 2"));
    const got = await drain(h);
    assert.deepEqual(got.batches.map((x) => [...(x.cursor.apiAfterIngestPending ?? [])].sort()), [[a.id, b.id].sort()]);
    assert.equal((await drain(h)).batches[0]?.cursor.apiAfterIngestPending, null);
    // The watcher was killed after committing that batch and before marking it read: the next start does it.
    assert.equal(fake.messages().find((m) => m.id === a.id)?.isRead, false);
    const next = makeProvider({ syncState: { afterIngestPending: [a.id, b.id] } });
    await next.provider.connect();
    for (const id of [a.id, b.id]) assert.equal(fake.messages().find((m) => m.id === id)?.isRead, true);
    assert.equal(next.provider.getHealthStatus().lastError, null);
  });

  it("after-ingest none leaves the message alone; move POSTs /move to the folder", async () => {
    const none = await ready({ afterIngest: "none" });
    const x = fake.addMessage(fake.defaultUser, sampleMime("leave me"));
    const start = fake.requests.length;
    await none.provider.applyAfterIngest((await drain(none)).messages.map((m) => m.providerMessageId));
    assert.equal(fake.messages().find((m) => m.id === x.id)?.isRead, false);
    assert.equal(fake.requests.slice(start).filter((r) => r.method !== "GET").length, 0);

    const move = await ready({ afterIngest: "move", moveToFolder: "archive" });
    const y = fake.addMessage(fake.defaultUser, sampleMime("move me"));
    assert.deepEqual((await drain(move)).messages.map((m) => m.providerMessageId), [y.id]);
    await move.provider.applyAfterIngest([y.id]);
    const moved = fake.messages().find((m) => m.id === y.id);
    assert.notEqual(moved?.folderId, fake.inboxId);
    assert.equal(moved?.isRead, false);
    assert.ok(fake.requests.some((r) => r.batchItem && r.method === "POST" && r.path.endsWith("/move") && r.status === 201));
    // The delta's @removed for the moved message is no new mail.
    assert.equal(await move.provider.waitForChange({ timeoutMs: 200, signal: signal() }), "timeout");
    assert.deepEqual((await drain(move)).messages, []);
  });

  it("marks read in $batch chunks of 20, skips deleted messages and retries throttled items", async () => {
    const { provider } = await ready();
    const ids = Array.from({ length: 25 }, (_, i) => fake.addMessage(fake.defaultUser, sampleMime(`bulk ${i}`)).id);
    fake.deleteMessage(fake.defaultUser, ids[3]!);
    fake.injectFault({ kind: "throttle_429", inBatch: true, path: "/me/messages/", count: 2, retryAfter: "0" });
    const start = fake.requests.length;
    await provider.applyAfterIngest(ids);
    const log = fake.requests.slice(start);
    // 20 + 5, plus one more $batch for the two throttled items.
    assert.equal(log.filter((r) => r.path.endsWith("/$batch")).length, 3);
    assert.equal(log.filter((r) => r.batchItem && r.status === 429).length, 2);
    assert.equal(log.filter((r) => r.batchItem && r.status === 404).length, 1);
    for (const m of fake.messages().filter((x) => ids.includes(x.id))) assert.equal(m.isRead, true);
  });

  it("a message above maxMessageBytes (PidTagMessageSize) comes back tooLarge with internetMessageHeaders only", async () => {
    const h = await ready({ maxMessageBytes: 4096 });
    const big = fake.addMessage(fake.defaultUser, sampleMime("huge attachment", "x".repeat(20_000)));
    const small = fake.addMessage(fake.defaultUser, sampleMime("small after huge"));
    const start = fake.requests.length;
    const { messages } = await drain(h);
    const byId = new Map(messages.map((m) => [m.providerMessageId, m]));
    const tooLarge = byId.get(big.id);
    assert.equal(tooLarge?.tooLarge, true);
    assert.ok((tooLarge?.size ?? 0) > 20_000);
    const text = tooLarge!.raw.toString("utf8");
    assert.match(text, /^Subject: huge attachment$/m);
    assert.ok(text.endsWith("\r\n\r\n") && !text.includes("xxxx"));
    assert.equal(byId.get(small.id)?.tooLarge, undefined);
    assert.equal(subjectOf(byId.get(small.id)!), "small after huge");
    const downloads = fake.requests.slice(start).filter((r) => r.path.endsWith("/$value"));
    assert.equal(downloads.length, 1);
    assert.ok(fake.requests.slice(start).some((r) => decodeURIComponent(r.query).includes("singleValueExtendedProperties($filter=id eq 'Integer 0x0E08')")));
  });

  it("bounds a batch by maxBytes (at least one message), with more=true until the queue is empty", async () => {
    const h = await ready();
    const ids = [0, 1, 2].map((i) => fake.addMessage(fake.defaultUser, sampleMime(`bytes ${i}`, "y".repeat(1000))).id);
    const start = fake.requests.length;
    const { batches } = await drain(h, { maxBytes: 1500 });
    assert.deepEqual(batches.map((b) => b.messages.length), [1, 1, 1]);
    // Each size is looked up once, though two of them waited for a later batch.
    assert.equal(fake.requests.slice(start).filter((r) => r.query.includes("expand")).length, 3);
    assert.deepEqual(batches.map((b) => b.more), [true, true, false]);
    assert.deepEqual(batches.flatMap((b) => b.messages.map((m) => m.providerMessageId)).sort(), [...ids].sort());
    // Every batch carries the delta link and what the queue still owes after it.
    assert.ok(batches.every((b) => b.cursor.graphDeltaLink));
    assert.deepEqual(batches.map((b) => b.cursor.apiBaselineIds?.length ?? null), [2, 1, null]);
  });

  it("listRecent and fetchByIds serve the reconcile", async () => {
    const h = await ready();
    const since = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000);
    const a = fake.addMessage(fake.defaultUser, sampleMime("recent a"));
    const b = fake.addMessage(fake.defaultUser, sampleMime("recent b"), { isRead: true });
    const recent = await h.provider.listRecent({ since, limit: 100 });
    assert.ok(recent.includes(a.id) && recent.includes(b.id));
    const fetched = await h.provider.fetchByIds([b.id, "AAMkAGgoneAAA="], { maxBytes: BIG });
    assert.deepEqual(fetched.map((m) => m.providerMessageId), [b.id]);
    assert.equal(subjectOf(fetched[0]!), "recent b");
  });

  it("waitForChange: changed after a message arrives; the batch carries the new delta link", async () => {
    const h = await ready();
    // More than one delta page (100): a round follows @odata.nextLink.
    for (let i = 0; i < 120; i++) fake.addMessage(fake.defaultUser, sampleMime(`page ${i}`), { isRead: true });
    const start = fake.requests.length;
    const { messages } = await drain(h);
    assert.equal(messages.length, 120);
    const deltaCalls = fake.requests.slice(start).filter((r) => r.path.endsWith("/delta"));
    assert.ok(deltaCalls[0]?.query.includes("deltatoken"), "the stored link was followed");
    assert.ok(deltaCalls.some((r) => r.query.includes("skiptoken")), "the round followed @odata.nextLink");
    assert.equal(await h.provider.waitForChange({ timeoutMs: 150, signal: signal() }), "timeout");

    const waiting = h.provider.waitForChange({ timeoutMs: 30_000, signal: signal() });
    setTimeout(() => fake.addMessage(fake.defaultUser, sampleMime("new arrival")), 100);
    assert.equal(await waiting, "changed");
    const next = await drain(h);
    assert.equal(next.messages.length, 1);
    assert.equal(next.batches.at(-1)?.cursor.graphDeltaLink, h.provider.currentDeltaLink);
  });

  it("reuses a stored delta link instead of starting a new one", async () => {
    const first = await ready();
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

  it("waitForChange returns changed at once after notifyChange, and closed on abort or disconnect", async () => {
    const { provider } = await ready({ pollIntervalMs: 60_000 });
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

  it("an expired delta link (410 SyncStateNotFound) re-baselines by date window and stores nothing twice", async () => {
    const h = await ready();
    const kept = fake.addMessage(fake.defaultUser, sampleMime("stored before expiry"));
    assert.deepEqual((await drain(h)).messages.map((m) => m.providerMessageId), [kept.id]);
    // As if this mailbox had stored everything earlier tests left in the shared fake.
    for (const m of fake.messages()) h.stored.add(m.id);
    const oldLink = h.provider.currentDeltaLink;
    const lost = fake.addMessage(fake.defaultUser, sampleMime("lost with the sync state"), { isRead: true });
    fake.expireDeltaTokens();
    const start = fake.requests.length;
    assert.equal(await h.provider.waitForChange({ timeoutMs: 30_000, signal: signal() }), "changed");
    assert.equal(fake.requests[start]?.status, 410);
    const { messages, batches } = await drain(h);
    assert.deepEqual(messages.map((m) => m.providerMessageId), [lost.id]);
    const link = batches.at(-1)?.cursor.graphDeltaLink;
    assert.ok(link && link !== oldLink);
    assert.ok(fake.requests.slice(start).some((r) => r.path.endsWith("/messages") && decodeURIComponent(r.query).includes("receivedDateTime ge")));
    assert.equal(await h.provider.waitForChange({ timeoutMs: 150, signal: signal() }), "timeout");
  });

  it("re-baselines after a 400 SyncStateInvalid as well", async () => {
    const h = await ready();
    for (const m of fake.messages()) h.stored.add(m.id);
    fake.expireDeltaTokens({ status: 400, code: "SyncStateInvalid" });
    assert.equal(await h.provider.waitForChange({ timeoutMs: 30_000, signal: signal() }), "changed");
    assert.deepEqual((await drain(h)).messages, []);
    assert.equal(await h.provider.waitForChange({ timeoutMs: 100, signal: signal() }), "timeout");
  });

  it("honours Retry-After on 429 and retries the same call", async () => {
    const h = await ready();
    fake.addMessage(fake.defaultUser, sampleMime("throttled"));
    fake.injectFault({ kind: "throttle_429", path: "/delta", retryAfter: "1" });
    const start = fake.requests.length;
    const calls = h.provider.usage.calls;
    const started = Date.now();
    const { messages } = await drain(h);
    const elapsed = Date.now() - started;
    assert.equal(messages.length, 1);
    // delta → 429, delta → 200, size → 200, $value → 200.
    assert.deepEqual(
      fake.requests.slice(start).map((r) => r.status),
      [429, 200, 200, 200],
    );
    assert.equal(h.provider.usage.calls - calls, 4);
    // Functional check that the server's Retry-After (1 s) was waited for, not a speed assertion.
    assert.ok(elapsed >= 900, `waited ${elapsed} ms`);
  });

  it("gives up with rate_limited after 3 tries; retries 503 and 504", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    fake.injectFault({ kind: "throttle_429", count: 3, path: "/mailFolders/", retryAfter: "0" });
    const calls = provider.usage.calls;
    const err = await assertMailError(provider.countStartCandidates({}), "rate_limited");
    assert.equal(err.options.retryAfterMs, 0);
    assert.equal(provider.usage.calls - calls, 3);

    fake.injectFault({ kind: "unavailable_503", path: "/mailFolders/", retryAfter: "0" });
    fake.injectFault({ kind: "gateway_timeout_504", path: "/mailFolders/" });
    const start = fake.requests.length;
    assert.equal(typeof (await provider.countStartCandidates({})).unread, "number");
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
    const err = await assertMailError(provider.countStartCandidates({}), "needs_reauth");
    assert.equal(err.isAuthFailure, true);
    assert.deepEqual(tokenCalls.at(-1), { forceRefresh: true });
    assert.equal(provider.isConnected, false);
  });

  it("403 ErrorAccessDenied is needs_reauth without retries", async () => {
    const { provider } = makeProvider();
    await provider.connect();
    fake.injectFault({ kind: "access_denied_403", path: "/mailFolders/" });
    const calls = provider.usage.calls;
    await assertMailError(provider.countStartCandidates({}), "needs_reauth");
    assert.equal(provider.usage.calls - calls, 1);
  });

  it("never follows a delta link to a host other than the configured base URL", async () => {
    const { provider } = makeProvider({ syncState: { deltaLink: "https://graph.evil.example/v1.0/me/mailFolders('inbox')/messages/delta?$deltatoken=x" } });
    await provider.connect();
    const start = fake.requests.length;
    await assertMailError(provider.waitForChange({ timeoutMs: 1_000, signal: signal() }), "protocol");
    await assertMailError(provider.fetchNew({ maxCount: 10, maxBytes: BIG }), "protocol");
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
    assert.equal(typeof (await provider.countStartCandidates({})).total, "number");
  });

  it("subscriptions: validation handshake, change notification → notifyChange, renew, delete", async () => {
    const { provider } = await ready({ pollIntervalMs: 60_000 });
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
