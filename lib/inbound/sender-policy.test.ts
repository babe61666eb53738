import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkSenderPolicy, extractAddress, senderMatches } from "./sender-policy";

describe("sender policy", () => {
  it("extracts the bare address", () => {
    assert.equal(extractAddress('"Otel Rez" <Rez@Hotel.Example>'), "rez@hotel.example");
    assert.equal(extractAddress("a@b.c"), "a@b.c");
    assert.equal(extractAddress("undisclosed"), null);
    assert.equal(extractAddress(null), null);
  });

  it("matches addresses exactly and domains with their subdomains", () => {
    assert.equal(senderMatches("rez@hotel.example", "rez@hotel.example"), true);
    assert.equal(senderMatches("rez@hotel.example", "other@hotel.example"), false);
    assert.equal(senderMatches("hotel.example", "x@mail.hotel.example"), true);
    assert.equal(senderMatches("@hotel.example", "x@hotel.example"), true);
    assert.equal(senderMatches("hotel.example", "x@nothotel.example"), false);
  });

  it("refuses DMARC failures only when asked, and senders outside a non-empty list", () => {
    const base = { allowedSenders: [], refuseDmarcFail: false, headerFrom: "a@x.com", envelopeFrom: "b@fwd.com", dmarc: "fail" };
    assert.equal(checkSenderPolicy(base), null);
    assert.equal(checkSenderPolicy({ ...base, refuseDmarcFail: true }), "dmarc_fail");
    assert.equal(checkSenderPolicy({ ...base, allowedSenders: ["y.com"] }), "sender_not_allowed");
    assert.equal(checkSenderPolicy({ ...base, allowedSenders: ["y.com", "x.com"] }), null);
    assert.equal(checkSenderPolicy({ ...base, allowedSenders: ["fwd.com"] }), null);
    assert.equal(checkSenderPolicy({ ...base, allowedSenders: [" "] }), null);
  });
});
