import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { coalesceCalls } from "./coalesce-calls";

describe("coalesceCalls", () => {
  it("sends the calls of one tick as one batch, and the calls made while it runs as the next", async () => {
    const batches: string[][] = [];
    let release: () => void = () => {};
    const call = coalesceCalls<string, number>({
      missing: -1,
      run: async (keys) => {
        batches.push(keys);
        if (batches.length === 1) await new Promise<void>((r) => (release = r));
        return new Map(keys.filter((k) => k !== "gone").map((k) => [k, k.length]));
      },
    });
    const first = [call("a"), call("bb"), call("a")];
    await Promise.resolve();
    await Promise.resolve();
    const second = [call("ccc"), call("gone")];
    release();
    assert.deepEqual(await Promise.all(first), [1, 2, 1]);
    assert.deepEqual(await Promise.all(second), [3, -1]);
    assert.deepEqual(batches, [["a", "bb"], ["ccc", "gone"]]);
  });

  it("splits at maxBatch, rejects only the calls of a failing batch, and goes on with the next", async () => {
    const batches: number[][] = [];
    const call = coalesceCalls<number, string>({
      missing: "none",
      maxBatch: 2,
      run: async (keys) => {
        batches.push(keys);
        if (keys.includes(3)) throw new Error("refused");
        return new Map(keys.map((k) => [k, `k${k}`]));
      },
    });
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((k) => call(k)));
    assert.deepEqual(
      results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message)),
      ["k1", "k2", "refused", "refused", "k5"],
    );
    assert.deepEqual(batches, [[1, 2], [3, 4], [5]]);
    // A lone call later still goes out on its own.
    assert.equal(await call(7), "k7");
    assert.deepEqual(batches.at(-1), [7]);
  });
});
