import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { takeCommitGroup, type CommitSize } from "./take-commit-group";

const limits = { maxRows: 5, maxBytes: 1000 };
const take = (queue: CommitSize[], l = limits): { group: string[]; rest: string[] } => {
  const label = (c: CommitSize): string => `${c.mailboxId}:${c.rows}`;
  const { group, rest } = takeCommitGroup(queue, (c) => c, l);
  return { group: group.map(label), rest: rest.map(label) };
};
const c = (mailboxId: string, rows = 1, bytes = 100): CommitSize => ({ mailboxId, rows, bytes });

describe("takeCommitGroup", () => {
  it("takes nothing from an empty queue", () => {
    assert.deepEqual(take([]), { group: [], rest: [] });
  });

  it("takes commits of different mailboxes in order up to maxRows", () => {
    assert.deepEqual(take([c("a", 2), c("b", 2), c("c", 1), c("d", 1)]), { group: ["a:2", "b:2", "c:1"], rest: ["d:1"] });
  });

  it("stops at the first commit that does not fit: a smaller later one does not overtake it", () => {
    assert.deepEqual(take([c("a", 3), c("b", 3), c("c", 1)]), { group: ["a:3"], rest: ["b:3", "c:1"] });
  });

  it("stops at maxBytes", () => {
    assert.deepEqual(take([c("a", 1, 600), c("b", 1, 500), c("c", 1, 1)]), { group: ["a:1"], rest: ["b:1", "c:1"] });
  });

  it("always takes the first commit, even past the limits", () => {
    assert.deepEqual(take([c("a", 9, 5000), c("b", 1)]), { group: ["a:9"], rest: ["b:1"] });
  });

  it("leaves a mailbox's second commit queued, in its place, and goes on with the others", () => {
    assert.deepEqual(take([c("a", 1), c("a", 2), c("b", 1), c("a", 1), c("c", 1)]), { group: ["a:1", "b:1", "c:1"], rest: ["a:2", "a:1"] });
  });

  it("keeps queue order in what is left", () => {
    assert.deepEqual(take([c("a", 1), c("a", 1), c("b", 4), c("c", 1), c("d", 1)]), { group: ["a:1", "b:4"], rest: ["a:1", "c:1", "d:1"] });
  });

  it("takes a burst of 2,000 single-row commits 200 at a time, in order", () => {
    const queue = Array.from({ length: 2000 }, (_, i) => c(`m${i}`, 1, 10));
    const { group, rest } = takeCommitGroup(queue, (x) => x, { maxRows: 200, maxBytes: 8 * 1024 * 1024 });
    assert.equal(group.length, 200);
    assert.equal(group[0]?.mailboxId, "m0");
    assert.equal(group[199]?.mailboxId, "m199");
    assert.equal(rest.length, 1800);
    assert.equal(rest[0]?.mailboxId, "m200");
  });
});
