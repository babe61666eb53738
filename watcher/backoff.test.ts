import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { computeBackoffMs, DEFAULT_BACKOFF, nextAttempt } from "./backoff";

const noJitter = { ...DEFAULT_BACKOFF, jitter: 0 };

describe("computeBackoffMs", () => {
  it("follows tenacity's wait_exponential(multiplier=1, min=2, max=30) without jitter", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 20].map((a) => computeBackoffMs(noJitter, a));
    assert.deepEqual(delays, [2000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it("jitter takes off at most the configured fraction", () => {
    assert.equal(computeBackoffMs(DEFAULT_BACKOFF, 4, { random: () => 0 }), 8000);
    assert.equal(computeBackoffMs(DEFAULT_BACKOFF, 4, { random: () => 0.5 }), 6000);
    assert.equal(computeBackoffMs(DEFAULT_BACKOFF, 4, { random: () => 0.999 }), 4004);
    assert.equal(computeBackoffMs(DEFAULT_BACKOFF, 6, { random: () => 1 }), 15000);
  });

  it("waits the long auth-failure delay whatever the attempt", () => {
    assert.equal(computeBackoffMs(DEFAULT_BACKOFF, 1, { authFailure: true }), 900_000);
    assert.equal(computeBackoffMs(DEFAULT_BACKOFF, 9, { authFailure: true }), 900_000);
  });

  it("treats Retry-After as a floor", () => {
    assert.equal(computeBackoffMs(noJitter, 1, { retryAfterMs: 45_000 }), 45_000);
    assert.equal(computeBackoffMs(noJitter, 6, { retryAfterMs: 1000 }), 30_000);
  });

  it("retries a dead path at once the first time, then backs off as usual (Retry-After still a floor)", () => {
    assert.equal(computeBackoffMs(DEFAULT_BACKOFF, 1, { retryNow: true, random: () => 0 }), 0);
    assert.equal(computeBackoffMs(DEFAULT_BACKOFF, 2, { retryNow: true, random: () => 0 }), 2000);
    assert.equal(computeBackoffMs(noJitter, 4, { retryNow: true }), 8000);
    assert.equal(computeBackoffMs(noJitter, 1, { retryNow: true, retryAfterMs: 5000 }), 5000);
    assert.equal(computeBackoffMs(noJitter, 1, { retryNow: true, authFailure: true }), 900_000);
  });

  it("treats attempt numbers below 1 as the first attempt", () => {
    assert.equal(computeBackoffMs(noJitter, 0), 2000);
    assert.equal(computeBackoffMs(noJitter, -3), 2000);
  });
});

describe("nextAttempt", () => {
  it("resets only after the connection stayed up for stableAfterMs", () => {
    assert.equal(nextAttempt(DEFAULT_BACKOFF, 5, 60_000), 1);
    assert.equal(nextAttempt(DEFAULT_BACKOFF, 5, 59_999), 6);
    assert.equal(nextAttempt(DEFAULT_BACKOFF, 5, null), 6);
  });
});
