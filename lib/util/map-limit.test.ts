import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mapLimit } from "./map-limit";

describe("mapLimit", () => {
  it("keeps input order whatever order the calls finish in, and never runs more than the limit at once", async () => {
    let inFlight = 0;
    let peak = 0;
    const delays = [30, 5, 20, 1, 10, 2];
    const out = await mapLimit(delays, 2, async (ms) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, ms));
      inFlight--;
      return ms * 10;
    });
    assert.deepEqual(out, [300, 50, 200, 10, 100, 20]);
    assert.equal(peak, 2);
  });

  it("returns an empty list for no items, and runs one lane for a limit below 1", async () => {
    assert.deepEqual(await mapLimit([], 4, async (x: number) => x), []);
    const seen: number[] = [];
    assert.deepEqual(await mapLimit([1, 2, 3], 0, async (x) => (seen.push(x), x + 1)), [2, 3, 4]);
    assert.deepEqual(seen, [1, 2, 3]);
  });
});
