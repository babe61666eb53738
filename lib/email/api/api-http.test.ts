import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildHeaderBlock, laterIso, parseRetryAfter, rebaselineSince, takeBatch } from "./api-http";

describe("parseRetryAfter", () => {
  it("reads delta-seconds and HTTP dates", () => {
    const now = Date.parse("2024-05-01T10:00:00Z");
    assert.equal(parseRetryAfter("120", now), 120_000);
    assert.equal(parseRetryAfter(" 0 ", now), 0);
    assert.equal(parseRetryAfter("Wed, 01 May 2024 10:00:30 GMT", now), 30_000);
    assert.equal(parseRetryAfter("Wed, 01 May 2024 09:00:00 GMT", now), 0);
  });
  it("ignores missing or malformed values", () => {
    assert.equal(parseRetryAfter(null), undefined);
    assert.equal(parseRetryAfter(""), undefined);
    assert.equal(parseRetryAfter("soon"), undefined);
    assert.equal(parseRetryAfter("-5"), undefined);
  });
});

describe("rebaselineSince", () => {
  const now = Date.parse("2026-12-02T12:00:00Z");
  it("starts a day before the newest stored message", () => {
    assert.equal(rebaselineSince({ lastReceivedAt: "2026-12-01T08:00:00.000Z", now }).toISOString(), "2026-11-30T08:00:00.000Z");
  });
  it("never starts after now minus a day, even for a receive time in the future", () => {
    assert.equal(rebaselineSince({ lastReceivedAt: "2027-01-01T00:00:00.000Z", now }).toISOString(), "2026-12-01T12:00:00.000Z");
  });
  it("looks three days back without a stored receive time", () => {
    assert.equal(rebaselineSince({ lastReceivedAt: undefined, now }).toISOString(), "2026-11-29T12:00:00.000Z");
    assert.equal(rebaselineSince({ lastReceivedAt: "garbage", now }).toISOString(), "2026-11-29T12:00:00.000Z");
  });
});

describe("takeBatch", () => {
  const items = [{ size: 600 }, { size: 600 }, { size: 10_000 }, { size: 600 }];
  it("stops at maxCount", () => {
    assert.equal(takeBatch(items, { maxCount: 2, maxBytes: 1e9, maxMessageBytes: 1e9 }).length, 2);
  });
  it("stops before the byte budget is exceeded, but always takes the first item", () => {
    assert.equal(takeBatch(items, { maxCount: 10, maxBytes: 1000, maxMessageBytes: 1e9 }).length, 1);
    assert.equal(takeBatch([{ size: 5000 }], { maxCount: 10, maxBytes: 1000, maxMessageBytes: 1e9 }).length, 1);
    assert.equal(takeBatch(items, { maxCount: 10, maxBytes: 1200, maxMessageBytes: 1e9 }).length, 2);
  });
  it("counts a too-large item as no body bytes (only its headers are fetched)", () => {
    assert.equal(takeBatch(items, { maxCount: 10, maxBytes: 1800, maxMessageBytes: 5000 }).length, 4);
  });
  it("takes nothing for maxCount 0 or an empty queue", () => {
    assert.deepEqual(takeBatch(items, { maxCount: 0, maxBytes: 1e9, maxMessageBytes: 1e9 }), []);
    assert.deepEqual(takeBatch([], { maxCount: 5, maxBytes: 1e9, maxMessageBytes: 1e9 }), []);
  });
});

describe("buildHeaderBlock", () => {
  it("joins name/value pairs with CRLF and ends with the blank line", () => {
    assert.equal(
      buildHeaderBlock([
        { name: "Subject", value: "Hi" },
        { name: "From", value: "a@b.test" },
      ]).toString("utf8"),
      "Subject: Hi\r\nFrom: a@b.test\r\n\r\n",
    );
  });
  it("keeps a value with a line break a single (folded) header", () => {
    assert.equal(buildHeaderBlock([{ name: "X-Note", value: "one\ntwo" }]).toString("utf8"), "X-Note: one\r\n two\r\n\r\n");
    assert.equal(buildHeaderBlock([]).toString("utf8"), "\r\n\r\n");
  });
});

describe("laterIso", () => {
  it("keeps the newer of a stored time and a message's receive time", () => {
    assert.equal(laterIso(undefined, new Date("2026-01-01T00:00:00Z")), "2026-01-01T00:00:00.000Z");
    assert.equal(laterIso("2026-02-01T00:00:00.000Z", new Date("2026-01-01T00:00:00Z")), "2026-02-01T00:00:00.000Z");
    assert.equal(laterIso("2026-01-01T00:00:00.000Z", new Date("2026-02-01T00:00:00Z")), "2026-02-01T00:00:00.000Z");
    assert.equal(laterIso("2026-01-01T00:00:00.000Z", undefined), "2026-01-01T00:00:00.000Z");
    assert.equal(laterIso(undefined, new Date(NaN)), undefined);
  });
});
