import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { headerDate, orderLiveFirst, pop3Progress } from "./pop3-provider";

const block = (lines: string[]): Buffer => Buffer.from(`${lines.join("\r\n")}\r\n\r\nbody Date: Mon, 1 Jan 2001 00:00:00 +0000\r\n`, "latin1");

describe("headerDate", () => {
  it("reads the Date header of a TOP 0 answer, with a comment and a folded line", () => {
    assert.equal(headerDate(block(["Subject: x", "Date: Tue, 1 Dec 2026 10:00:00 +0000 (UTC)"])), Date.parse("2026-12-01T10:00:00Z"));
    assert.equal(headerDate(block(["Date: Tue, 1 Dec 2026", " 10:00:00 +0100"])), Date.parse("2026-12-01T09:00:00Z"));
  });
  it("is null without a Date header or with one that does not parse (never the body's)", () => {
    assert.equal(headerDate(block(["Subject: no date"])), null);
    assert.equal(headerDate(block(["Date: sometime soon"])), null);
  });
});

describe("orderLiveFirst", () => {
  const e = (uid: string, num: number): { uid: string; num: number } => ({ uid, num });
  it("takes mail that arrived during a large drain before the backlog, each in maildrop order", () => {
    const pending = [e("a", 1), e("b", 2), e("new1", 3), e("c", 4), e("new2", 5)];
    assert.deepEqual(
      orderLiveFirst(pending, new Set(["a", "b", "c"])).map((x) => x.uid),
      ["new1", "new2", "a", "b", "c"],
    );
  });
  it("keeps maildrop order without a backlog", () => {
    assert.deepEqual(orderLiveFirst([e("a", 1), e("b", 2)], null).map((x) => x.uid), ["a", "b"]);
  });
});

describe("pop3Progress", () => {
  const ordered = [{ uid: "new" }, { uid: "a" }, { uid: "b" }, { uid: "c" }];
  const none = { backlog: false, pending: false };
  it("commits the backlog left after this batch and the UIDLs to delete after the commit", () => {
    assert.deepEqual(pop3Progress({ ordered, taken: new Set(["new", "a"]), backlog: new Set(["a", "b", "c"]), deleteIds: ["new", "a"], committed: none }), {
      cursor: { pop3BacklogUids: ["b", "c"], pop3AfterIngestPending: ["new", "a"] },
      committed: { backlog: true, pending: true },
    });
  });
  it("clears a committed list once, then writes nothing", () => {
    const done = pop3Progress({ ordered: [{ uid: "c" }], taken: new Set(["c"]), backlog: new Set(["c"]), deleteIds: [], committed: { backlog: true, pending: true } });
    assert.deepEqual(done, { cursor: { pop3BacklogUids: null, pop3AfterIngestPending: null }, committed: none });
    assert.deepEqual(pop3Progress({ ordered: [], taken: new Set(), backlog: null, deleteIds: [], committed: done.committed }), { cursor: {}, committed: none });
  });
});
