import assert from "node:assert/strict";
import { test } from "node:test";
import { emailSlowdownMs, pairRateLimitKey } from "./login";

test("per-account slow-down: none below the threshold, doubling, capped", () => {
  assert.deepEqual([0, 4, 5, 6, 7, 8, 9, 10, 50].map(emailSlowdownMs), [0, 0, 250, 500, 1000, 2000, 4000, 4000, 4000]);
});

test("the pair key joins the client and the normalised email", () => {
  assert.equal(pairRateLimitKey(" Admin@Hotel.Test ", "203.0.113.9"), "pair:203.0.113.9|admin@hotel.test");
});
