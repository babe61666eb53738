import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { headerValue, isBlank, isKnownCharset, looksBinary, parseContentType, repairMessage, scanHeaders } from "./mime-repair";

const b = (s: string): Buffer => Buffer.from(s, "latin1");

describe("scanHeaders", () => {
  it("reads folded fields and finds the body after the blank line", () => {
    const raw = b("Subject: a\r\n  b\r\nFrom: x@y\r\n\r\nbody");
    const scan = scanHeaders(raw);
    assert.deepEqual(scan.fields.map((f) => f.name), ["subject", "from"]);
    assert.equal(headerValue(scan.fields, "subject"), "a b");
    assert.equal(raw.subarray(scan.bodyStart).toString(), "body");
    assert.equal(scan.missingSeparator, false);
  });

  it("ends the header block at the first line that is not a header when the blank line is missing", () => {
    const raw = b("Subject: a\nDear hotel\nmore\n");
    const scan = scanHeaders(raw);
    assert.equal(scan.missingSeparator, true);
    assert.equal(raw.subarray(scan.bodyStart).toString(), "Dear hotel\nmore\n");
  });

  it("skips a stray line followed by another header", () => {
    const scan = scanHeaders(b("From: a\nstray\nSubject: s\n\nx"));
    assert.deepEqual(scan.malformedLines, ["stray"]);
    assert.deepEqual(scan.fields.map((f) => f.name), ["from", "subject"]);
  });
});

describe("parseContentType", () => {
  it("reads type and parameters, quoted or not, first one winning", () => {
    assert.deepEqual(parseContentType('Multipart/Mixed; boundary="a b"; charset=utf-8; boundary=other'), {
      type: "multipart/mixed",
      params: { boundary: "a b", charset: "utf-8" },
    });
    assert.deepEqual(parseContentType(null), { type: "text/plain", params: {} });
  });
});

describe("charsets and content checks", () => {
  it("knows WHATWG labels and a few mail-only names", () => {
    assert.equal(isKnownCharset("ISO-8859-9"), true);
    assert.equal(isKnownCharset("windows-1254"), true);
    assert.equal(isKnownCharset("utf-7"), true);
    assert.equal(isKnownCharset("x-no-such-charset"), false);
  });

  it("tells blank and binary content apart from text", () => {
    assert.equal(isBlank(b(" \r\n\t")), true);
    assert.equal(isBlank(b(" a ")), false);
    assert.equal(looksBinary(b("\x01\x02\x03 hello")), true);
    assert.equal(looksBinary(b("Çok güzel, plain text\r\n")), false);
  });
});

describe("repairMessage", () => {
  it("returns a well-formed message untouched (same buffer)", () => {
    const raw = b("From: a@b\r\nSubject: s\r\n\r\nbody\r\n");
    const result = repairMessage(raw);
    assert.ok(result.ok);
    assert.equal(result.source, raw);
    assert.deepEqual(result.warnings, []);
  });

  it("strips an mbox From line and inserts the missing separator", () => {
    const result = repairMessage(b("From a@b Tue Nov 24 10:00:00 2026\nSubject: s\nbody line\n"));
    assert.ok(result.ok);
    assert.equal(result.source.toString(), "Subject: s\r\n\r\nbody line\n");
    assert.deepEqual(result.warnings.map((w) => w.slice(0, w.indexOf(":"))), ["mbox_from_line", "missing_header_separator"]);
  });

  it("turns a multipart without boundary into text/plain, keeping the other headers", () => {
    const result = repairMessage(b("Subject: s\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\n"));
    assert.ok(result.ok);
    assert.equal(result.source.toString(), "Subject: s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n--x\r\n");
  });

  it("reads 8-bit headers that are not UTF-8 as windows-1252", () => {
    const result = repairMessage(b("Subject: \xc7ok\r\n\r\nx"));
    assert.ok(result.ok);
    assert.equal(result.source.toString("utf8"), "Subject: Çok\r\n\r\nx");
  });
});
