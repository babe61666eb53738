import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { queueProgress, reconcileSince, resumeQueue } from "./first-import";

describe("resumeQueue", () => {
  it("puts what the cursor found first, then what the stored queue still owed, each once", () => {
    assert.deepEqual(resumeQueue({ found: ["n1", "b3"], owed: ["b2", "b3", "b4"] }), ["n1", "b3", "b2", "b4"]);
  });

  it("works without a stored queue", () => {
    assert.deepEqual(resumeQueue({ found: ["n1", "n1", "n2"], owed: null }), ["n1", "n2"]);
    assert.deepEqual(resumeQueue({ found: [], owed: undefined }), []);
  });
});

describe("queueProgress", () => {
  it("commits the remaining ids and, when given, the baseline time", () => {
    assert.deepEqual(queueProgress({ remaining: ["a", "b"], baselineAt: "2026-12-02T10:00:00.000Z" }), {
      apiBaselineIds: ["a", "b"],
      apiBaselineAt: "2026-12-02T10:00:00.000Z",
    });
  });

  it("clears the stored ids once the queue is empty", () => {
    assert.deepEqual(queueProgress({ remaining: [] }), { apiBaselineIds: null });
  });

  it("copies the list, so a later shift of the queue does not change a committed cursor", () => {
    const remaining = ["a", "b"];
    const patch = queueProgress({ remaining });
    remaining.shift();
    assert.deepEqual(patch.apiBaselineIds, ["a", "b"]);
  });
});

describe("reconcileSince", () => {
  const since = new Date("2026-11-29T10:00:00.000Z");
  it("never looks before the baseline", () => {
    assert.equal(reconcileSince({ since, baselineAt: "2026-12-02T09:30:00.000Z" }).toISOString(), "2026-12-02T09:30:00.000Z");
  });

  it("keeps the window when the baseline is older, missing or unreadable", () => {
    assert.equal(reconcileSince({ since, baselineAt: "2026-11-01T00:00:00.000Z" }).toISOString(), "2026-11-29T10:00:00.000Z");
    assert.equal(reconcileSince({ since }).toISOString(), "2026-11-29T10:00:00.000Z");
    assert.equal(reconcileSince({ since, baselineAt: "not a time" }).toISOString(), "2026-11-29T10:00:00.000Z");
  });
});
