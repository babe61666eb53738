import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClientLimits } from "./client-limits";

describe("client limits", () => {
  it("caps open connections per address and frees them on close", () => {
    const limits = new ClientLimits({ maxConnectionsPerIp: 2, maxMessagesPerMinute: 10 });
    assert.equal(limits.openConnection("1.1.1.1"), true);
    assert.equal(limits.openConnection("1.1.1.1"), true);
    assert.equal(limits.openConnection("1.1.1.1"), false);
    assert.equal(limits.openConnection("2.2.2.2"), true);
    limits.closeConnection("1.1.1.1");
    assert.equal(limits.openConnections("1.1.1.1"), 1);
    assert.equal(limits.openConnection("1.1.1.1"), true);
  });

  it("caps messages per sliding minute", () => {
    let now = 0;
    const limits = new ClientLimits({ maxConnectionsPerIp: 1, maxMessagesPerMinute: 2, now: () => now });
    assert.equal(limits.startMessage("a"), true);
    now = 30_000;
    assert.equal(limits.startMessage("a"), true);
    assert.equal(limits.startMessage("a"), false);
    now = 60_001;
    assert.equal(limits.startMessage("a"), true);
    assert.equal(limits.startMessage("a"), false);
  });
});
