import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { planUnreadFetch, selectNewUnread } from "./imap-unread-plan";

describe("planUnreadFetch", () => {
  it("fetches from the cursor after a new-mail notification", () => {
    assert.deepEqual(planUnreadFetch({ fullSearchDue: false, uidCursor: 42, newMessages: 1, maxCount: 50 }), {
      kind: "range",
      range: "42:*",
    });
    assert.deepEqual(planUnreadFetch({ fullSearchDue: false, uidCursor: 7, newMessages: 50, maxCount: 50 }), {
      kind: "range",
      range: "7:*",
    });
    // EXISTS can report no growth (an expunge and a new message at once): the range still looks.
    assert.deepEqual(planUnreadFetch({ fullSearchDue: false, uidCursor: 7, newMessages: -1, maxCount: 50 }), {
      kind: "range",
      range: "7:*",
    });
  });

  it("searches at connect, on a safety re-sync, while draining a backlog and for bursts above a batch", () => {
    assert.deepEqual(planUnreadFetch({ fullSearchDue: true, uidCursor: 42, newMessages: 1, maxCount: 50 }), { kind: "search" });
    assert.deepEqual(planUnreadFetch({ fullSearchDue: false, uidCursor: 0, newMessages: 1, maxCount: 50 }), { kind: "search" });
    assert.deepEqual(planUnreadFetch({ fullSearchDue: false, uidCursor: 42, newMessages: 51, maxCount: 50 }), { kind: "search" });
  });
});

describe("selectNewUnread", () => {
  it("keeps unread messages at or above the cursor, in UID order, and moves the cursor past all it saw", () => {
    const result = selectNewUnread(
      [
        { uid: 12, seen: false },
        { uid: 10, seen: false },
        { uid: 11, seen: true },
      ],
      10,
    );
    assert.deepEqual(result, {
      unread: [
        { uid: 10, seen: false },
        { uid: 12, seen: false },
      ],
      uidCursor: 13,
    });
  });

  it("drops the last message that n:* returns when nothing is new", () => {
    assert.deepEqual(selectNewUnread([{ uid: 9, seen: false }], 10), { unread: [], uidCursor: 10 });
    assert.deepEqual(selectNewUnread([], 10), { unread: [], uidCursor: 10 });
  });

  it("moves the cursor past read messages too", () => {
    assert.deepEqual(selectNewUnread([{ uid: 15, seen: true }], 10), { unread: [], uidCursor: 16 });
  });
});
