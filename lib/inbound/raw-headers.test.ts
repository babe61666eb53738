import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readRawHeader } from "./raw-headers";

describe("readRawHeader", () => {
  it("reads a header case-insensitively, unfolded, only from the header block", () => {
    const raw = Buffer.from("From: a@b.c\r\nmessage-ID:\r\n <x@y.z>\r\nSubject: Hi\r\n there\r\n\r\nMessage-ID: <body@x>\r\n");
    assert.equal(readRawHeader(raw, "Message-ID"), "<x@y.z>");
    assert.equal(readRawHeader(raw, "subject"), "Hi there");
    assert.equal(readRawHeader(raw, "To"), null);
  });

  it("works with bare LF line ends", () => {
    assert.equal(readRawHeader(Buffer.from("Subject: x\n\nbody"), "Subject"), "x");
  });
});
