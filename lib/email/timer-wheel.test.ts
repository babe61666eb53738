import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TimerWheel, type WheelTimers } from "./timer-wheel";

/** Time and the one interval move only when the test says so. */
function fakeTimers(): WheelTimers & { advance: (ms: number) => void; stall: (ms: number) => void; intervals: () => number } {
  let now = 1_000_000;
  const live = new Map<number, { every: number; next: number; fn: () => void }>();
  let seq = 0;
  return {
    now: () => now,
    setInterval: (fn, ms) => {
      seq += 1;
      live.set(seq, { every: ms, next: now + ms, fn });
      return seq;
    },
    clearInterval: (h) => void live.delete(h as number),
    intervals: () => live.size,
    // Time passes while the event loop is blocked: the interval is due but has not run.
    stall: (ms) => {
      now += ms;
    },
    advance: (ms) => {
      const end = now + ms;
      for (;;) {
        const due = [...live.values()].filter((t) => t.next <= end).sort((a, b) => a.next - b.next)[0];
        if (!due) break;
        now = due.next;
        due.next += due.every;
        due.fn();
      }
      now = end;
    },
  };
}

describe("TimerWheel", () => {
  it("fires each deadline in the first tick at or after it, never before, and cancels cleanly", () => {
    const timers = fakeTimers();
    const wheel = new TimerWheel(1000, timers);
    const fired: string[] = [];
    wheel.setTimeout(() => fired.push(`a@${timers.now() - 1_000_000}`), 2500);
    const b = wheel.setTimeout(() => fired.push("b"), 1000);
    wheel.setTimeout(() => fired.push(`c@${timers.now() - 1_000_000}`), 1000);
    wheel.setTimeout(() => fired.push(`d@${timers.now() - 1_000_000}`), 0);
    assert.equal(wheel.size, 4);
    assert.equal(timers.intervals(), 1);
    wheel.clearTimeout(b);
    wheel.clearTimeout(b);
    assert.equal(wheel.size, 3);
    timers.advance(999);
    assert.deepEqual(fired, []);
    timers.advance(1);
    // Earlier deadlines first: d (0 ms) sits in an earlier bucket than c (1000 ms).
    assert.deepEqual(fired, ["d@1000", "c@1000"]);
    timers.advance(1499);
    assert.deepEqual(fired, ["d@1000", "c@1000"]);
    timers.advance(501);
    assert.deepEqual(fired, ["d@1000", "c@1000", "a@3000"]);
    // Nothing pending: the one interval is gone too.
    assert.equal(wheel.size, 0);
    assert.equal(timers.intervals(), 0);
  });

  it("10,000 deadlines share one interval; a handler may schedule again from inside a tick", () => {
    const timers = fakeTimers();
    const wheel = new TimerWheel(1000, timers);
    let count = 0;
    for (let i = 0; i < 10_000; i++) wheel.setTimeout(() => (count += 1), 60_000 + (i % 7) * 1000);
    assert.equal(timers.intervals(), 1);
    const rearmed: number[] = [];
    wheel.setTimeout(() => wheel.setTimeout(() => rearmed.push(timers.now() - 1_000_000), 500), 1000);
    timers.advance(2000);
    assert.deepEqual(rearmed, [2000]);
    timers.advance(65_000);
    assert.equal(count, 10_000);
    assert.equal(wheel.size, 0);
  });

  it("catches up after a stalled event loop: every bucket that came due fires once", () => {
    const timers = fakeTimers();
    const wheel = new TimerWheel(1000, timers);
    const fired: number[] = [];
    for (const ms of [1000, 2000, 3000]) wheel.setTimeout(() => fired.push(ms), ms);
    timers.advance(500);
    assert.deepEqual(fired, []);
    timers.stall(4000);
    // The late interval's one tick runs all three, in order, and nothing fires twice after.
    wheel.tick();
    assert.deepEqual(fired, [1000, 2000, 3000]);
    timers.advance(5000);
    assert.deepEqual(fired, [1000, 2000, 3000]);
    assert.equal(timers.intervals(), 0);
  });
});
