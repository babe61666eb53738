import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inboundProviderMessageId } from "./store-inbound-message";

describe("inboundProviderMessageId", () => {
  it("keys by Message-ID, ignoring angle brackets and case", () => {
    const a = inboundProviderMessageId(Buffer.from("Message-ID: <Abc@X.example>\r\n\r\nbody one"));
    const b = inboundProviderMessageId(Buffer.from("Message-Id: abc@x.example\r\n\r\nbody two"));
    assert.equal(a, b);
    assert.match(a, /^smtp:mid:[0-9a-f]{64}$/);
  });

  it("keys by content hash without a Message-ID", () => {
    const id = inboundProviderMessageId(Buffer.from("Subject: x\r\n\r\nbody"));
    assert.match(id, /^smtp:sha256:[0-9a-f]{64}$/);
    assert.notEqual(id, inboundProviderMessageId(Buffer.from("Subject: x\r\n\r\nbody2")));
  });
});
