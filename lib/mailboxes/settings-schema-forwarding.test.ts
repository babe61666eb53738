import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { forwardingSettingsSchema, isForwardingBody } from "./settings-schema";

describe("forwarding settings body", () => {
  it("is told apart from an IMAP body by access", () => {
    assert.equal(isForwardingBody({ access: "forwarding" }), true);
    assert.equal(isForwardingBody({ host: "imap.x.com" }), false);
    assert.equal(isForwardingBody(null), false);
  });

  it("fills defaults and lowercases allowed senders", () => {
    assert.deepEqual(forwardingSettingsSchema.parse({ access: "forwarding", allowed_senders: ["Partner.COM", "Rez@Hotel.test"], address: "" }), {
      access: "forwarding",
      address: undefined,
      enabled: true,
      allowed_senders: ["partner.com", "rez@hotel.test"],
      refuse_dmarc_fail: false,
    });
  });

  it("refuses malformed entries and unknown fields", () => {
    const bad = forwardingSettingsSchema.safeParse({ access: "forwarding", allowed_senders: ["not a domain"] });
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error?.issues.map((i) => i.path.join(".")), ["allowed_senders.0"]);
    assert.equal(forwardingSettingsSchema.safeParse({ access: "forwarding", host: "x" }).success, false);
  });
});
