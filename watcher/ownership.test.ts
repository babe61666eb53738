import assert from "node:assert/strict";
import { test } from "node:test";
import { ClaimOrder, fairShareOf, sameFingerprint } from "./ownership";

test("fair share is ceil(total / live), at least one, with no live replica counted as one", () => {
  assert.equal(fairShareOf(10, 3), 4);
  assert.equal(fairShareOf(9, 3), 3);
  assert.equal(fairShareOf(0, 2), 1);
  assert.equal(fairShareOf(5, 0), 5);
});

test("surplus is the newest claims first; released mailboxes drop out of the order", () => {
  const order = new ClaimOrder();
  for (const id of ["a", "b", "c", "d"]) order.claimed(id);
  order.released("c");
  order.claimed("c");
  assert.deepEqual(order.newest(["a", "b", "c", "d"], 2), ["c", "d"]);
  assert.deepEqual(order.newest(["a", "b"], 5), ["b", "a"]);
  assert.deepEqual(order.newest(["a"], 0), []);
});

test("the fingerprint matches only the same count and digest; no previous pass never matches", () => {
  assert.equal(sameFingerprint(null, { count: 0, digest: "0" }), false);
  assert.equal(sameFingerprint({ count: 3, digest: "-12" }, { count: 3, digest: "-12" }), true);
  assert.equal(sameFingerprint({ count: 3, digest: "-12" }, { count: 3, digest: "7" }), false);
  assert.equal(sameFingerprint({ count: 3, digest: "-12" }, { count: 2, digest: "-12" }), false);
});
