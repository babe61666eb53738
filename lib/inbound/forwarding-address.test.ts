import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildForwardingAddress, generateForwardingToken, parseForwardingToken } from "./forwarding-address";

describe("forwarding addresses", () => {
  it("makes 32-character base32 tokens that differ every time", () => {
    const a = generateForwardingToken();
    const b = generateForwardingToken();
    assert.match(a, /^[a-z2-7]{32}$/);
    assert.notEqual(a, b);
  });

  it("round-trips an address to its token, case-insensitively and ignoring a +tag", () => {
    const token = "abcdefghijklmnopqrstuvwxyz234567";
    const address = buildForwardingAddress({ token, domain: "In.Example.COM" });
    assert.equal(address, `booking-${token}@in.example.com`);
    assert.equal(parseForwardingToken({ address, domain: "in.example.com" }), token);
    assert.equal(parseForwardingToken({ address: address.toUpperCase(), domain: "in.example.com" }), token);
    assert.equal(parseForwardingToken({ address: `booking-${token}+x@in.example.com.`, domain: "in.example.com" }), token);
  });

  it("refuses other domains and shapes", () => {
    const token = "abcdefghijklmnopqrstuvwxyz234567";
    assert.equal(parseForwardingToken({ address: `booking-${token}@other.com`, domain: "in.example.com" }), null);
    assert.equal(parseForwardingToken({ address: `stopsale-${token}@in.example.com`, domain: "in.example.com" }), null);
    assert.equal(parseForwardingToken({ address: "booking-short@in.example.com", domain: "in.example.com" }), null);
    assert.equal(parseForwardingToken({ address: "no-at-sign", domain: "in.example.com" }), null);
  });
});
