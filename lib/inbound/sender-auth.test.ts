import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { normalizeClientIp, summarizeDkim } from "./sender-auth";

describe("sender auth helpers", () => {
  it("unwraps IPv4-mapped addresses", () => {
    assert.equal(normalizeClientIp("::ffff:192.0.2.1"), "192.0.2.1");
    assert.equal(normalizeClientIp("2001:db8::1"), "2001:db8::1");
    assert.equal(normalizeClientIp(undefined), null);
  });

  it("summarises DKIM: any pass wins, else the first result, none without signatures", () => {
    assert.deepEqual(summarizeDkim([{ signingDomain: "a.com", status: { result: "fail" } }, { signingDomain: "b.com", status: { result: "pass" } }]), {
      result: "pass",
      domains: ["b.com"],
    });
    assert.deepEqual(summarizeDkim([{ signingDomain: "a.com", status: { result: "neutral" } }]), { result: "neutral", domains: [] });
    assert.deepEqual(summarizeDkim(undefined), { result: "none", domains: [] });
  });
});
