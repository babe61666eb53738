import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AdaptiveConnectGate } from "./connect-gate";

const tick = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe("AdaptiveConnectGate", () => {
  it("grows by one per window while connects stay fast, never above max", async () => {
    let now = 0;
    const gate = new AdaptiveConnectGate({ initial: 2, max: 4, now: () => now });
    const limits: number[] = [];
    for (let i = 0; i < 20; i++) {
      const release = await gate.acquire();
      now += 10;
      release();
      limits.push(gate.limit);
    }
    // Windows of 2, 3, 4, 4... connects, each as fast as the fastest: +1 per window up to 4.
    assert.deepEqual(limits, [2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
  });

  it("shrinks by a quarter (not below the start) when connects take more than 3x the fastest", async () => {
    let now = 0;
    const gate = new AdaptiveConnectGate({ initial: 4, max: 40, now: () => now });
    const connect = async (ms: number): Promise<void> => {
      const release = await gate.acquire();
      now += ms;
      release();
    };
    for (let i = 0; i < 4 + 5 + 6 + 7 + 8 + 9 + 10 + 11; i++) await connect(10);
    assert.equal(gate.limit, 12);
    for (let i = 0; i < 12; i++) await connect(50);
    assert.equal(gate.limit, 9);
    for (let i = 0; i < 9 + 6 + 4; i++) await connect(50);
    // 9 -> 6 -> 4 (the floor): the reference drifts up only 10 % per window, so 5x slower still counts.
    assert.equal(gate.limit, 4);
  });

  it("never lets more than the limit in at once, and wakes waiters in order", async () => {
    const gate = new AdaptiveConnectGate({ initial: 2, max: 2 });
    const order: number[] = [];
    const releases: (() => void)[] = [];
    const all = [0, 1, 2, 3, 4].map((i) =>
      gate.acquire().then((release) => {
        order.push(i);
        releases.push(release);
      }),
    );
    await tick();
    assert.deepEqual(order, [0, 1]);
    assert.equal(gate.pending, 3);
    releases[0]?.();
    releases[0]?.(); // twice: counted once
    await tick();
    assert.deepEqual(order, [0, 1, 2]);
    releases[1]?.();
    releases[2]?.();
    await tick();
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    releases[3]?.();
    releases[4]?.();
    await Promise.all(all);
    assert.equal(gate.pending, 0);
  });
});
