import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRetryAfter } from "./api-http";
import { parseGmailPushNotification } from "./gmail-provider";

function envelope(data: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const encoded = typeof data === "string" ? data : Buffer.from(JSON.stringify(data)).toString("base64");
  return {
    message: { data: encoded, messageId: "2070443601311540", message_id: "2070443601311540", publishTime: "2021-02-26T19:13:55.749Z", ...extra },
    subscription: "projects/myproject/subscriptions/mysubscription",
  };
}

describe("parseGmailPushNotification", () => {
  it("decodes the Pub/Sub push envelope (historyId as number or string)", () => {
    assert.deepEqual(parseGmailPushNotification(envelope({ emailAddress: "user@example.com", historyId: 9876543210 })), {
      emailAddress: "user@example.com",
      historyId: "9876543210",
    });
    assert.deepEqual(parseGmailPushNotification(envelope({ emailAddress: "user@example.com", historyId: "1234" })), {
      emailAddress: "user@example.com",
      historyId: "1234",
    });
  });

  it("accepts snake_case-only envelope fields", () => {
    const body = {
      message: { data: Buffer.from(JSON.stringify({ emailAddress: "a@b.c", historyId: 1 })).toString("base64"), message_id: "1", publish_time: "x" },
      subscription: "projects/p/subscriptions/s",
    };
    assert.equal(parseGmailPushNotification(body)?.historyId, "1");
  });

  it("returns null for anything that is not a Gmail push", () => {
    const bad: unknown[] = [
      null,
      "text",
      [],
      {},
      { message: {} },
      { message: { data: "" }, subscription: "s" },
      envelope("not base64 !!"),
      envelope(Buffer.from("not json").toString("base64")),
      envelope({ emailAddress: "user@example.com" }),
      envelope({ emailAddress: "user@example.com", historyId: -1 }),
      envelope({ emailAddress: "user@example.com", historyId: "12a" }),
      envelope({ emailAddress: "nobody", historyId: 1 }),
      { ...envelope({ emailAddress: "user@example.com", historyId: 1 }), subscription: undefined },
      envelope({ emailAddress: "user@example.com", historyId: 1 }, { messageId: undefined, message_id: undefined }),
    ];
    for (const body of bad) assert.equal(parseGmailPushNotification(body), null, JSON.stringify(body));
  });
});

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
