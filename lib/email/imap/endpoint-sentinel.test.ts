import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EndpointSentinels, endpointKey, idleBoundMs } from "./endpoint-sentinel";

describe("EndpointSentinels", () => {
  it("makes the first connection per endpoint the sentinel, independently per endpoint", () => {
    const s = new EndpointSentinels<string>();
    s.join("mail.a:993", "a1");
    s.join("mail.a:993", "a2");
    s.join("mail.b:143", "b1");
    s.join("mail.a:993", "a1"); // joining twice changes nothing
    assert.deepEqual(
      ["a1", "a2", "b1"].map((id) => s.isSentinel(id.startsWith("a") ? "mail.a:993" : "mail.b:143", id)),
      [true, false, true],
    );
    assert.equal(s.endpointCount, 2);
  });

  it("hands the sentinel role to the next oldest when the sentinel leaves, and says so only then", () => {
    const s = new EndpointSentinels<string>();
    for (const id of ["x", "y", "z"]) s.join("e", id);
    assert.equal(s.leave("e", "y"), null);
    assert.equal(s.leave("e", "x"), "z");
    assert.equal(s.isSentinel("e", "z"), true);
    assert.equal(s.leave("e", "z"), null);
    assert.equal(s.endpointCount, 0);
    assert.equal(s.leave("e", "z"), null);
    assert.equal(s.leave("unknown", "z"), null);
  });

  it("names every other connection of the endpoint as suspect when one is found dead", () => {
    const s = new EndpointSentinels<number>();
    for (const id of [1, 2, 3]) s.join("e", id);
    s.join("other", 4);
    assert.deepEqual(s.suspectsAfterDeath("e", 1), [2, 3]);
    assert.deepEqual(s.suspectsAfterDeath("e", 3), [1, 2]);
    assert.deepEqual(s.suspectsAfterDeath("nowhere", 1), []);
  });
});

describe("endpointKey and idleBoundMs", () => {
  it("keys by lower-cased host, port and the resolved address when known", () => {
    assert.equal(endpointKey({ host: "Mail.Example.com", port: 993 }), "mail.example.com:993");
    assert.equal(endpointKey({ host: "mail.example.com", port: 993, address: "192.0.2.7" }), "mail.example.com:993@192.0.2.7");
  });

  it("gives the sentinel the short bound and everyone else the passive one", () => {
    assert.equal(idleBoundMs({ isSentinel: true, sentinelBoundMs: 95_000, passiveBoundMs: 130_000 }), 95_000);
    assert.equal(idleBoundMs({ isSentinel: false, sentinelBoundMs: 95_000, passiveBoundMs: 130_000 }), 130_000);
    // A sentinel bound above the passive one would make the sentinel the slowest: never.
    assert.equal(idleBoundMs({ isSentinel: true, sentinelBoundMs: 200_000, passiveBoundMs: 130_000 }), 130_000);
  });
});
