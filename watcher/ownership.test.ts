import assert from "node:assert/strict";
import { test } from "node:test";
import { ClaimOrder, fairShareOf, shuffle } from "./ownership";

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

test("shuffle is a Fisher-Yates permutation driven by random()", () => {
  assert.deepEqual(shuffle([1, 2, 3, 4], () => 0), [2, 3, 4, 1]);
  assert.deepEqual(shuffle([1, 2, 3, 4], () => 0.999), [1, 2, 3, 4]);
});
