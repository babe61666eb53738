import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mulberry32 } from "./seeded-random";

describe("mulberry32", () => {
  it("gives the same sequence for the same seed", () => {
    const r = mulberry32(1);
    assert.deepEqual([r(), r(), r()], [0.6270739405881613, 0.002735721180215478, 0.5274470399599522]);
  });

  it("gives another sequence for another seed, always in [0, 1)", () => {
    const a = mulberry32(2);
    assert.notEqual(a(), mulberry32(1)());
    for (let i = 0; i < 1000; i++) {
      const x = a();
      assert.ok(x >= 0 && x < 1);
    }
  });
});
