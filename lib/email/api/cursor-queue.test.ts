import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FetchedMessage } from "@/lib/email/provider";
import { CursorQueue, type CursorQueueSource, type CursorRound, type StartMode } from "./cursor-queue";

type Meta = { id: string; size: number; receivedAt?: Date };

/**
 * A mailbox as a cursor sees it: an append-only log of ids (the position is the log length, as a
 * string) and the ids already stored. Records every call so the tests pin what was asked.
 */
function makeSource(opts: { log: string[]; stored?: string[]; expired?: boolean; listed?: string[] }): {
  source: CursorQueueSource<Meta>;
  calls: string[];
  log: string[];
} {
  const calls: string[] = [];
  const stored = new Set(opts.stored ?? []);
  const log = opts.log;
  const source: CursorQueueSource<Meta> = {
    readSince: async (position): Promise<CursorRound | null> => {
      calls.push(`readSince ${position}`);
      if (opts.expired) return null;
      return { ids: log.slice(Number(position)), position: String(log.length) };
    },
    planBaseline: async (mode: StartMode, since): Promise<CursorRound> => {
      calls.push(`planBaseline ${mode}${since ? ` ${since.toISOString()}` : ""}`);
      const position = String(log.length);
      if (mode === "new_only") return { ids: [], position };
      return { ids: (opts.listed ?? []).filter((id) => !stored.has(id)), position };
    },
    unknown: async (ids) => ids.filter((id) => !stored.has(id)),
    getMetadata: async (id) => ({ id, size: 100, receivedAt: new Date(Date.UTC(2026, 11, 1, 0, 0, Number(id.replace(/\D/g, "")) || 0)) }),
    fetchSized: async (meta): Promise<FetchedMessage> => {
      stored.add(meta.id);
      return { providerMessageId: meta.id, raw: Buffer.from(meta.id), size: meta.size, ...(meta.receivedAt ? { receivedAt: meta.receivedAt } : {}) };
    },
    onExpired: (since) => calls.push(`expired ${since.toISOString()}`),
  };
  return { source, calls, log };
}

const limits = { maxMessageBytes: 1_000_000, concurrency: 2 };

describe("CursorQueue", () => {
  it("without a position takes the start mode's baseline and commits its position and the baseline time", async () => {
    const { source, calls } = makeSource({ log: ["m1", "m2"], listed: ["u1", "u2", "u3"] });
    const q = new CursorQueue<Meta>({ source, startMode: "unread", liveCheckMs: 60_000, ...limits });
    const first = await q.takeBatch({ maxCount: 2, maxBytes: 10_000 });
    assert.deepEqual(calls, ["planBaseline unread"]);
    assert.deepEqual(first.messages.map((m) => m.providerMessageId), ["u1", "u2"]);
    assert.equal(first.more, true);
    assert.equal(first.backlog, 1);
    assert.equal(first.position, "2");
    assert.deepEqual(first.cursor.apiBaselineIds, ["u3"]);
    assert.match(String(first.cursor.apiBaselineAt), /^\d{4}-\d\d-\d\dT/);
    assert.equal(q.working, true);
    const second = await q.takeBatch({ maxCount: 2, maxBytes: 10_000 });
    assert.deepEqual(second.messages.map((m) => m.providerMessageId), ["u3"]);
    assert.equal(second.more, false);
    assert.equal(second.cursor.apiBaselineIds, null);
    assert.equal(q.working, false);
    assert.equal(q.position, "2");
  });

  it("with a position reads past it, puts what was found before what the stored queue still owed, each once", async () => {
    const { source, calls } = makeSource({ log: ["a", "b", "n1", "o2"], stored: ["a", "b"] });
    const q = new CursorQueue<Meta>({ source, syncState: { position: "2", baselineIds: ["o1", "o2"] }, liveCheckMs: 60_000, ...limits });
    const order: string[] = [];
    let batch;
    do {
      batch = await q.takeBatch({ maxCount: 1, maxBytes: 10_000 });
      order.push(...batch.messages.map((m) => m.providerMessageId));
    } while (batch.more);
    assert.deepEqual(calls, ["readSince 2"]);
    assert.deepEqual(order, ["n1", "o2", "o1"]);
    assert.equal(batch.position, "4");
    assert.equal(batch.cursor.apiBaselineIds, null);
  });

  it("re-baselines by date from the last received time when the position expired", async () => {
    const { source, calls } = makeSource({ log: [], expired: true, listed: ["r1"] });
    const q = new CursorQueue<Meta>({ source, syncState: { position: "7", lastReceivedAt: "2026-12-01T10:00:00.000Z" }, liveCheckMs: 60_000, ...limits });
    const batch = await q.takeBatch({ maxCount: 10, maxBytes: 10_000 });
    // A day before the newest stored message (REBASELINE_OVERLAP_MS).
    assert.deepEqual(calls, ["readSince 7", "expired 2026-11-30T10:00:00.000Z", "planBaseline since 2026-11-30T10:00:00.000Z"]);
    assert.deepEqual(batch.messages.map((m) => m.providerMessageId), ["r1"]);
  });

  it("takes mail that arrived during a large queue to its front and moves the queue's position", async () => {
    const { source, log } = makeSource({ log: [], listed: ["u1", "u2", "u3", "u4"] });
    const q = new CursorQueue<Meta>({ source, liveCheckMs: 0, ...limits });
    const first = await q.takeBatch({ maxCount: 1, maxBytes: 10_000 });
    assert.deepEqual(first.messages.map((m) => m.providerMessageId), ["u1"]);
    assert.equal(first.position, "0");
    log.push("live1", "u3");
    const second = await q.takeBatch({ maxCount: 1, maxBytes: 10_000 });
    assert.deepEqual(second.messages.map((m) => m.providerMessageId), ["live1"]);
    assert.equal(second.position, "2");
    assert.deepEqual(second.cursor.apiBaselineIds, ["u2", "u3", "u4"]);
  });

  it("moves an idle position only when nothing moved it since the poll started, and never before the baseline", async () => {
    const { source } = makeSource({ log: [] });
    const q = new CursorQueue<Meta>({ source, syncState: { position: "5", baselineAt: "2026-12-02T09:30:00.000Z" }, ...limits });
    q.advanceIdle({ from: "4", to: "9" });
    assert.equal(q.position, "5");
    q.advanceIdle({ from: "5", to: "6" });
    assert.equal(q.position, "6");
    assert.equal(q.reconcileFrom(new Date("2026-11-29T10:00:00.000Z")).toISOString(), "2026-12-02T09:30:00.000Z");
    assert.equal(q.reconcileFrom(new Date("2026-12-02T10:00:00.000Z")).toISOString(), "2026-12-02T10:00:00.000Z");
  });
});
