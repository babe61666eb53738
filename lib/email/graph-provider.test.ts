import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { handleGraphValidation, parseGraphNotifications } from "./graph-provider";

describe("handleGraphValidation", () => {
  it("returns the decoded validationToken to echo", () => {
    const token = "Validation: Testing client application reachability for subscription Request-Id: 3b3f9821-ce3f-4d37";
    const url = new URL(`https://app.example/api/graph/notifications?validationToken=${encodeURIComponent(token)}`);
    assert.equal(handleGraphValidation(url), token);
  });
  it("returns null for a normal notification POST", () => {
    assert.equal(handleGraphValidation(new URL("https://app.example/api/graph/notifications")), null);
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

  it("returns change and lifecycle notifications with the right clientState", () => {
    const lifecycle = { subscriptionId: "s2", lifecycleEvent: "reauthorizationRequired", clientState: "secretClientState" };
    assert.deepEqual(parseGraphNotifications({ value: [change, lifecycle] }, "secretClientState"), [
      { subscriptionId: change.subscriptionId, changeType: "created", resource: change.resource },
      { subscriptionId: "s2", changeType: null, resource: null, lifecycleEvent: "reauthorizationRequired" },
    ]);
  });

  it("drops notifications with a wrong or missing clientState", () => {
    const { clientState: _omit, ...noState } = change;
    void _omit;
    assert.deepEqual(parseGraphNotifications({ value: [change] }, "other"), []);
    assert.deepEqual(parseGraphNotifications({ value: [{ ...change, clientState: "secretClientStatE" }] }, "secretClientState"), []);
    assert.deepEqual(parseGraphNotifications({ value: [noState] }, "secretClientState"), []);
    assert.deepEqual(parseGraphNotifications({ value: [change] }, ""), []);
  });

  it("returns [] for bodies that are not notification collections", () => {
    for (const body of [null, "x", {}, { value: "nope" }, { value: [{}] }, { value: [{ subscriptionId: "s", clientState: "secretClientState" }] }]) {
      assert.deepEqual(parseGraphNotifications(body, "secretClientState"), [], JSON.stringify(body));
    }
  });
});
