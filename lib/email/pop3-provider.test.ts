import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { headerDate } from "./pop3-provider";

const block = (lines: string[]): Buffer => Buffer.from(`${lines.join("\r\n")}\r\n\r\nbody Date: Mon, 1 Jan 2001 00:00:00 +0000\r\n`, "latin1");

describe("headerDate", () => {
  it("reads the Date header of a TOP 0 answer, with a comment and a folded line", () => {
    assert.equal(headerDate(block(["Subject: x", "Date: Tue, 1 Dec 2026 10:00:00 +0000 (UTC)"])), Date.parse("2026-12-01T10:00:00Z"));
    assert.equal(headerDate(block(["Date: Tue, 1 Dec 2026", " 10:00:00 +0100"])), Date.parse("2026-12-01T09:00:00Z"));
  });
  it("is null without a Date header or with one that does not parse (never the body's)", () => {
    assert.equal(headerDate(block(["Subject: no date"])), null);
    assert.equal(headerDate(block(["Date: sometime soon"])), null);
  });
});
