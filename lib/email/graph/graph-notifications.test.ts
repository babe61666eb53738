import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deriveGraphClientState, handleGraphValidation, isSameClientState, parseGraphNotifications, pushEventFor } from "./graph-notifications";

describe("handleGraphValidation", () => {
  it("returns the decoded validationToken to echo", () => {
    const token = "Validation: Testing client application reachability for subscription Request-Id: 3b3f9821-ce3f-4d37";
    const url = new URL(`https://app.example/api/webhooks/graph?validationToken=${encodeURIComponent(token)}`);
    assert.equal(handleGraphValidation(url), token);
  });
  it("returns null for a normal notification POST", () => {
    assert.equal(handleGraphValidation(new URL("https://app.example/api/webhooks/graph")), null);
  });
});

describe("deriveGraphClientState", () => {
  it("is HMAC-SHA256(secret, 'graph-client-state:' + mailbox id) in base64url", () => {
    // Pinned (same value from Python hmac): changing the derivation would orphan every live subscription's clientState.
    assert.equal(
      deriveGraphClientState({ mailboxId: "00000000-0000-4000-8000-000000000001", secret: "test-secret" }),
      "aW1hGhZZRTAxuYE59A6Ax1qGc7lNxvfxMcLyw1W4wyc",
    );
    assert.notEqual(
      deriveGraphClientState({ mailboxId: "00000000-0000-4000-8000-000000000002", secret: "test-secret" }),
      deriveGraphClientState({ mailboxId: "00000000-0000-4000-8000-000000000001", secret: "test-secret" }),
    );
  });
  it("compares in constant time and never matches an empty expectation", () => {
    assert.equal(isSameClientState("abc", "abc"), true);
    assert.equal(isSameClientState("abd", "abc"), false);
    assert.equal(isSameClientState("ab", "abc"), false);
    assert.equal(isSameClientState(null, "abc"), false);
    assert.equal(isSameClientState("", ""), false);
  });
});

describe("parseGraphNotifications", () => {
  const change = {
    subscriptionId: "7f105c7d-2dc5-4530-97cd-4e7ae6534c07",
    subscriptionExpirationDateTime: "2024-05-03T11:00:00.0000000Z",
    changeType: "created",
    resource: "Users/ddfcd489-628b-40d7-b48b-57002df800e5/Messages/AAMkAGUwNjQ4ZjIxAAA=",
    resourceData: { "@odata.type": "#Microsoft.Graph.Message", id: "AAMkAGUwNjQ4ZjIxAAA=" },
    clientState: "secretClientState",
    tenantId: "84bd8158-6d4d-4958-8b9f-9d6445542f95",
  };

  it("returns change and lifecycle notifications with their clientState", () => {
    const lifecycle = { subscriptionId: "s2", lifecycleEvent: "reauthorizationRequired", clientState: "secretClientState" };
    const { clientState: _omit, ...noState } = change;
    void _omit;
    assert.deepEqual(parseGraphNotifications({ value: [change, lifecycle, noState] }), [
      { subscriptionId: change.subscriptionId, clientState: "secretClientState", changeType: "created", resource: change.resource },
      { subscriptionId: "s2", clientState: "secretClientState", changeType: null, resource: null, lifecycleEvent: "reauthorizationRequired" },
      { subscriptionId: change.subscriptionId, clientState: null, changeType: "created", resource: change.resource },
    ]);
  });

  it("skips malformed items and returns null for bodies that are not collections", () => {
    assert.deepEqual(parseGraphNotifications({ value: [{}, { subscriptionId: "s" }, 7] }), []);
    for (const body of [null, "x", {}, { value: "nope" }]) assert.equal(parseGraphNotifications(body), null, JSON.stringify(body));
  });

  it("maps lifecycle events to what the watcher must do", () => {
    const base = { subscriptionId: "s", clientState: "c", changeType: null, resource: null };
    assert.equal(pushEventFor({ ...base, changeType: "created" }), "changed");
    assert.equal(pushEventFor({ ...base, lifecycleEvent: "reauthorizationRequired" }), "reauthorize");
    assert.equal(pushEventFor({ ...base, lifecycleEvent: "subscriptionRemoved" }), "resubscribe");
    assert.equal(pushEventFor({ ...base, lifecycleEvent: "missed" }), "missed");
  });
});
