import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resumeState } from "./api-providers";

describe("resumeState", () => {
  it("maps every stored resume key to the provider's name for it", () => {
    assert.deepEqual(
      resumeState({
        apiLastReceivedAt: "2026-12-01T10:00:00.000Z",
        apiBaselineIds: ["a", "b"],
        apiBaselineAt: "2026-11-30T08:00:00.000Z",
        apiAfterIngestPending: ["c"],
      }),
      { lastReceivedAt: "2026-12-01T10:00:00.000Z", baselineIds: ["a", "b"], baselineAt: "2026-11-30T08:00:00.000Z", afterIngestPending: ["c"] },
    );
  });

  it("leaves out what is unset, empty or null (a cleared queue)", () => {
    assert.deepEqual(resumeState({}), {});
    assert.deepEqual(resumeState({ apiLastReceivedAt: "", apiBaselineIds: null, apiBaselineAt: "", apiAfterIngestPending: null }), {});
    assert.deepEqual(resumeState({ apiBaselineIds: [], apiAfterIngestPending: [] }), {});
  });
});
