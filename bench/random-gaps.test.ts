import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseGapRange, seededGaps } from "./random-gaps";

describe("bench random gaps", () => {
  it("parses MIN-MAX seconds into ms", () => {
    assert.deepEqual(parseGapRange("0.2-20"), { minMs: 200, maxMs: 20_000 });
    assert.deepEqual(parseGapRange(" 1 - 1.5 "), { minMs: 1000, maxMs: 1500 });
  });

  it("refuses a malformed or inverted range", () => {
    assert.throws(() => parseGapRange("20"), /MIN-MAX/);
    assert.throws(() => parseGapRange("5-1"), /below MIN/);
  });

  it("gives the same gaps for the same seed, inside the range", () => {
    const a = seededGaps({ minMs: 200, maxMs: 20_000, seed: 1, count: 5 });
    assert.deepEqual(a, seededGaps({ minMs: 200, maxMs: 20_000, seed: 1, count: 5 }));
    assert.deepEqual(a, [12_616, 254, 10_643, 19_625, 19_374]);
    assert.notDeepEqual(a, seededGaps({ minMs: 200, maxMs: 20_000, seed: 2, count: 5 }));
    const many = seededGaps({ minMs: 200, maxMs: 20_000, seed: 7, count: 1000 });
    assert.ok(many.every((g) => g >= 200 && g <= 20_000));
    // Uniform: the mean of 1,000 draws is near the middle (10.1 s), not at either end.
    const mean = many.reduce((s, g) => s + g, 0) / many.length;
    assert.ok(mean > 9_000 && mean < 11_200, String(mean));
  });
});
