import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  advanceImapCursor,
  advanceLiveCursor,
  baselineCursor,
  baselineProgress,
  formatUidSet,
  imapCursorPatch,
  parseUidSet,
  pendingBaselineUids,
  planImapBatch,
  planImapOpen,
  readImapCursor,
  reconcilableUids,
  type ImapCursor,
} from "./imap-cursor-plan";

const MB = 1024 * 1024;
const meta = (uid: number, size = 1000): { uid: number; size: number } => ({ uid, size });

describe("planImapOpen", () => {
  const since = new Date("2026-11-20T00:00:00Z");
  it("resumes a cursor of the same UIDVALIDITY", () => {
    const plan = planImapOpen({ folder: "INBOX", state: { imapUidValidity: "7", imapLastUid: 41, imapFloorUid: 3 }, uidValidity: "7", startMode: "unread", startSince: null });
    assert.deepEqual(plan, { kind: "resume", cursor: { uidValidity: "7", lastUid: 41, baseline: null, floorUid: 3 } });
  });

  it("starts each mode's baseline on first connect", () => {
    assert.deepEqual(planImapOpen({ folder: "INBOX", state: {}, uidValidity: "7", startMode: "unread", startSince: null }), {
      kind: "baseline",
      reason: "first_connect",
      search: { unseen: true },
    });
    assert.deepEqual(planImapOpen({ folder: "INBOX", state: {}, uidValidity: "7", startMode: "since", startSince: since }), {
      kind: "baseline",
      reason: "first_connect",
      search: { since },
    });
    assert.deepEqual(planImapOpen({ folder: "INBOX", state: {}, uidValidity: "7", startMode: "new_only", startSince: null }), {
      kind: "baseline",
      reason: "first_connect",
      search: null,
    });
    // The legacy key of the \Seen-based sync is no cursor.
    assert.equal(planImapOpen({ folder: "INBOX", state: { uidValidity: "7" }, uidValidity: "7", startMode: "new_only", startSince: null }).kind, "baseline");
  });

  it("starts afresh (per start mode) when the admin switched to another folder", () => {
    const state = { imapFolder: "INBOX", imapUidValidity: "7", imapLastUid: 41, imapLastReceivedAt: "2026-11-30T10:00:00.000Z" };
    assert.deepEqual(planImapOpen({ folder: "Rez", state, uidValidity: "9", startMode: "new_only", startSince: null }), {
      kind: "baseline",
      reason: "first_connect",
      search: null,
    });
    assert.equal(planImapOpen({ folder: "INBOX", state, uidValidity: "7", startMode: "new_only", startSince: null }).kind, "resume");
  });

  it("re-baselines a changed UIDVALIDITY from a day before the newest stored message", () => {
    const plan = planImapOpen({
      folder: "INBOX",
      state: { imapUidValidity: "7", imapLastUid: 90, imapLastReceivedAt: "2026-11-30T10:00:00.000Z" },
      uidValidity: "8",
      startMode: "new_only",
      startSince: null,
    });
    assert.deepEqual(plan, {
      kind: "baseline",
      reason: "uidvalidity_changed",
      search: { since: new Date("2026-11-29T10:00:00.000Z") },
      lastReceivedAt: "2026-11-30T10:00:00.000Z",
    });
    // Nothing stored through the cursor yet: the start mode decides again.
    assert.deepEqual(planImapOpen({ folder: "INBOX", state: { imapUidValidity: "7", imapLastUid: 0 }, uidValidity: "8", startMode: "unread", startSince: null }), {
      kind: "baseline",
      reason: "uidvalidity_changed",
      search: { unseen: true },
    });
  });
});

describe("baselineCursor", () => {
  it("keeps the found UIDs below UIDNEXT and starts just before the first", () => {
    assert.deepEqual(baselineCursor({ uidValidity: "7", uidNext: 11, found: [9, 2, 3, 12, 3] }), {
      uidValidity: "7",
      floorUid: 11,
      lastUid: 1,
      baseline: { uids: [2, 3, 9], uidNext: 11, liveLastUid: 10 },
    });
  });

  it("with nothing found starts at UIDNEXT - 1 (new_only, or no unread mail)", () => {
    assert.deepEqual(baselineCursor({ uidValidity: "7", uidNext: 11, found: [] }), { uidValidity: "7", floorUid: 11, lastUid: 10, baseline: null });
    assert.deepEqual(baselineCursor({ uidValidity: "7", uidNext: 1, found: [] }), { uidValidity: "7", floorUid: 1, lastUid: 0, baseline: null });
  });

  it("round-trips through SyncState", () => {
    const cursor = baselineCursor({ uidValidity: "7", folder: "INBOX", uidNext: 11, found: [2, 3, 4, 9], lastReceivedAt: "2026-11-30T10:00:00.000Z" });
    const patch = imapCursorPatch(cursor);
    assert.deepEqual(patch, {
      imapUidValidity: "7",
      imapFolder: "INBOX",
      imapLastUid: 1,
      imapBaselineUids: "2:4,9",
      imapBaselineUidNext: 11,
      imapLiveLastUid: 10,
      imapFloorUid: 11,
      imapLastReceivedAt: "2026-11-30T10:00:00.000Z",
    });
    assert.deepEqual(readImapCursor(patch), cursor);
    // A finished baseline writes nulls, which clear the keys in a jsonb merge.
    const done = advanceImapCursor(cursor, 10);
    assert.deepEqual(imapCursorPatch(done), { ...patch, imapLastUid: 10, imapBaselineUids: null, imapBaselineUidNext: null, imapLiveLastUid: null });
    assert.equal(readImapCursor(imapCursorPatch(done))?.baseline, null);
  });
});

describe("pendingBaselineUids and advanceImapCursor", () => {
  const cursor: ImapCursor = { uidValidity: "7", lastUid: 1, floorUid: 11, baseline: { uids: [2, 3, 9], uidNext: 11, liveLastUid: 10 } };
  it("lists what is left above the cursor", () => {
    assert.deepEqual(pendingBaselineUids(cursor), [2, 3, 9]);
    assert.deepEqual(pendingBaselineUids(cursor, 2), [2, 3]);
    assert.deepEqual(pendingBaselineUids({ ...cursor, lastUid: 3 }), [9]);
    assert.deepEqual(pendingBaselineUids({ ...cursor, baseline: null }), []);
  });

  it("keeps the baseline until the cursor reaches UIDNEXT - 1, and never moves back", () => {
    assert.deepEqual(advanceImapCursor(cursor, 9).baseline, cursor.baseline);
    assert.equal(advanceImapCursor(cursor, 10).baseline, null);
    assert.equal(advanceImapCursor({ ...cursor, lastUid: 20, baseline: null }, 5).lastUid, 20);
  });

  it("moves the live cursor independently and folds it in when the backlog is done", () => {
    const live = advanceLiveCursor(cursor, 14);
    assert.deepEqual(live, { ...cursor, baseline: { uids: [2, 3, 9], uidNext: 11, liveLastUid: 14 } });
    assert.equal(advanceLiveCursor(live, 12).baseline?.liveLastUid, 14);
    // Backlog still running: the backlog cursor stays where it was.
    assert.equal(live.lastUid, 1);
    assert.deepEqual(advanceImapCursor(live, 3), { ...live, lastUid: 3 });
    // Backlog done: the cursor continues after the live mail already stored.
    assert.deepEqual(advanceImapCursor(live, 10), { ...cursor, lastUid: 14, baseline: null });
    // Without a baseline the live cursor is the cursor.
    assert.equal(advanceLiveCursor({ ...cursor, baseline: null, lastUid: 20 }, 25).lastUid, 25);
  });

  it("survives a crash: the live cursor round-trips, and an older state without it means UIDNEXT - 1", () => {
    const live = advanceLiveCursor(cursor, 14);
    assert.deepEqual(readImapCursor(imapCursorPatch(live)), live);
    const patch = imapCursorPatch(cursor);
    delete patch.imapLiveLastUid;
    assert.equal(readImapCursor(patch)?.baseline?.liveLastUid, 10);
  });

  it("reports first-import progress", () => {
    assert.deepEqual(baselineProgress(cursor), { imported: 0, total: 3 });
    assert.deepEqual(baselineProgress({ ...cursor, lastUid: 3 }), { imported: 2, total: 3 });
    assert.equal(baselineProgress({ ...cursor, baseline: null }), null);
    assert.equal(baselineProgress(null), null);
  });

  it("remembers the newest internal date only", () => {
    const a = advanceImapCursor(cursor, 3, new Date("2026-11-30T10:00:00Z"));
    assert.equal(a.lastReceivedAt, "2026-11-30T10:00:00.000Z");
    assert.equal(advanceImapCursor(a, 4, new Date("2026-11-01T00:00:00Z")).lastReceivedAt, "2026-11-30T10:00:00.000Z");
  });
});

describe("planImapBatch", () => {
  const base = { lastUid: 10, listedThrough: 0, maxCount: 3, maxBytes: 10_000, maxMessageBytes: MB };

  it("takes everything when it fits and moves the cursor to the listing's end", () => {
    const plan = planImapBatch({ ...base, listing: [meta(12), meta(11)] });
    assert.deepEqual(plan, { whole: [meta(11), meta(12)], headersOnly: [], rest: [], lastUid: 12 });
  });

  it("drops the `n:*` echo of a message below the cursor", () => {
    assert.deepEqual(planImapBatch({ ...base, listing: [meta(10)] }), { whole: [], headersOnly: [], rest: [], lastUid: 10 });
  });

  it("caps by count, leaving the cursor just below the first message left", () => {
    const plan = planImapBatch({ ...base, listing: [meta(11), meta(13), meta(20), meta(21)] });
    assert.deepEqual(plan.whole.map((m) => m.uid), [11, 13, 20]);
    assert.deepEqual(plan.rest, [meta(21)]);
    assert.equal(plan.lastUid, 20);
  });

  it("caps by bytes, but a single message above the batch cap still goes alone", () => {
    const plan = planImapBatch({ ...base, listing: [meta(11, 6000), meta(12, 6000), meta(13, 100)] });
    assert.deepEqual(plan.whole.map((m) => m.uid), [11]);
    assert.equal(plan.lastUid, 11);
    const alone = planImapBatch({ ...base, listing: [meta(11, 50_000), meta(12, 10)] });
    assert.deepEqual(alone.whole.map((m) => m.uid), [11]);
    assert.equal(alone.lastUid, 11);
  });

  it("sends a message above the message cap to headers only, without counting its bytes", () => {
    const plan = planImapBatch({ ...base, listing: [meta(11, 2 * MB), meta(12, 9000)] });
    assert.deepEqual(plan.headersOnly, [meta(11, 2 * MB)]);
    assert.deepEqual(plan.whole, [meta(12, 9000)]);
    assert.equal(plan.lastUid, 12);
  });

  it("passes baseline UIDs that are skipped up to what the listing covers", () => {
    // Baseline listing of UIDs 12 and 15 below UIDNEXT 31: once both are taken, the cursor is 30.
    const plan = planImapBatch({ ...base, listing: [meta(12), meta(15)], listedThrough: 30 });
    assert.equal(plan.lastUid, 30);
    // An empty listing still moves the cursor over a covered range.
    assert.equal(planImapBatch({ ...base, listing: [], listedThrough: 30 }).lastUid, 30);
  });
});

describe("reconcilableUids", () => {
  it("keeps only UIDs between the floor and the cursor", () => {
    const cursor: ImapCursor = { uidValidity: "7", lastUid: 40, floorUid: 11, baseline: null };
    assert.deepEqual(reconcilableUids(cursor, [41, 5, 11, 40, 20]), [11, 20, 40]);
  });

  it("during a baseline, checks live mail up to the live cursor", () => {
    const cursor: ImapCursor = { uidValidity: "7", lastUid: 3, floorUid: 11, baseline: { uids: [2, 3, 9], uidNext: 11, liveLastUid: 13 } };
    assert.deepEqual(reconcilableUids(cursor, [9, 11, 13, 14]), [11, 13]);
  });
});

describe("UID sets", () => {
  it("formats runs compactly and parses them back", () => {
    assert.equal(formatUidSet([9, 1, 2, 3, 7, 10, 3]), "1:3,7,9:10");
    assert.equal(formatUidSet([]), "");
    assert.deepEqual(parseUidSet("1:3,7,10:9"), [1, 2, 3, 7, 9, 10]);
    assert.deepEqual(parseUidSet(""), []);
  });
});
