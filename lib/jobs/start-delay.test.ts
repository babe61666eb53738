import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startDelayMs } from "./start-delay";

describe("startDelayMs", () => {
  const now = Date.UTC(2026, 11, 2, 12, 0, 0);

  it("is 0 for a job that may run now", () => {
    assert.equal(startDelayMs({ startAfter: undefined, now }), 0);
    assert.equal(startDelayMs({ startAfter: 0, now }), 0);
    assert.equal(startDelayMs({ startAfter: -5, now }), 0);
    assert.equal(startDelayMs({ startAfter: new Date(now), now }), 0);
    assert.equal(startDelayMs({ startAfter: new Date(now - 1500), now }), 0);
  });

  it("reads a number as seconds and a Date as the moment", () => {
    assert.equal(startDelayMs({ startAfter: 30, now }), 30_000);
    assert.equal(startDelayMs({ startAfter: 0.5, now }), 500);
    assert.equal(startDelayMs({ startAfter: new Date(now + 1234), now }), 1234);
  });
});
