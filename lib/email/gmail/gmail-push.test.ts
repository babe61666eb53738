import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseGmailPushNotification } from "./gmail-push";

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
