import assert from "node:assert/strict";
import { test } from "node:test";
import { retryUntilStopped } from "./retry-until-stopped";

test("retries with doubling delays capped at the maximum until the attempt succeeds", async () => {
  const waits: number[] = [];
  const errors: unknown[] = [];
  let calls = 0;
  const ok = await retryUntilStopped({
    attempt: async () => {
      calls += 1;
      if (calls < 6) throw new Error(`fail ${calls}`);
    },
    shouldStop: () => false,
    onError: (err) => errors.push((err as Error).message),
    initialDelayMs: 1000,
    maxDelayMs: 8000,
    sleep: async (ms) => void waits.push(ms),
  });
  assert.equal(ok, true);
  assert.equal(calls, 6);
  assert.deepEqual(waits, [1000, 2000, 4000, 8000, 8000]);
  assert.deepEqual(errors, ["fail 1", "fail 2", "fail 3", "fail 4", "fail 5"]);
});

test("stops without another try once shouldStop turns true", async () => {
  let calls = 0;
  let stop = false;
  const ok = await retryUntilStopped({
    attempt: async () => {
      calls += 1;
      throw new Error("down");
    },
    shouldStop: () => stop,
    onError: () => {},
    sleep: async () => {
      if (calls === 2) stop = true;
    },
  });
  assert.equal(ok, false);
  assert.equal(calls, 2);
});

test("does not try at all when already stopped", async () => {
  let calls = 0;
  const ok = await retryUntilStopped({ attempt: async () => void (calls += 1), shouldStop: () => true, onError: () => {} });
  assert.equal(ok, false);
  assert.equal(calls, 0);
});
