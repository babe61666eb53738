import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MailError } from "./provider";
import { isGmailWatchDue, isGraphSubscriptionDue, parseStoredTime, pollIntervalWithPush, pushFailureLogFields } from "./push-renewal";

const HOUR = 3600 * 1000;
const now = Date.parse("2026-11-25T12:00:00.000Z");

describe("isGmailWatchDue", () => {
  it("is due when there is no watch yet", () => {
    assert.equal(isGmailWatchDue({ now, renewedAt: undefined, expiresAt: undefined }), true);
    assert.equal(isGmailWatchDue({ now, renewedAt: now - HOUR, expiresAt: undefined }), true);
  });
  it("renews a day after the last call", () => {
    const expiresAt = now + 6 * 24 * HOUR;
    assert.equal(isGmailWatchDue({ now, renewedAt: now - 24 * HOUR + 1, expiresAt }), false);
    assert.equal(isGmailWatchDue({ now, renewedAt: now - 24 * HOUR, expiresAt }), true);
  });
  it("renews an hour before expiry even if renewed recently", () => {
    assert.equal(isGmailWatchDue({ now, renewedAt: now - HOUR, expiresAt: now + HOUR + 1 }), false);
    assert.equal(isGmailWatchDue({ now, renewedAt: now - HOUR, expiresAt: now + HOUR }), true);
    assert.equal(isGmailWatchDue({ now, renewedAt: now - HOUR, expiresAt: now - 1 }), true);
  });
});

describe("isGraphSubscriptionDue", () => {
  const lifetimeMs = 4230 * 60 * 1000;
  it("is due without a subscription", () => {
    assert.equal(isGraphSubscriptionDue({ now, expiresAt: undefined, lifetimeMs }), true);
  });
  it("renews once half the lifetime has passed", () => {
    assert.equal(isGraphSubscriptionDue({ now, expiresAt: now + lifetimeMs / 2 + 1, lifetimeMs }), false);
    assert.equal(isGraphSubscriptionDue({ now, expiresAt: now + lifetimeMs / 2, lifetimeMs }), true);
    assert.equal(isGraphSubscriptionDue({ now, expiresAt: now - 1, lifetimeMs }), true);
  });
});

describe("parseStoredTime", () => {
  it("reads ISO timestamps and rejects the rest", () => {
    assert.equal(parseStoredTime("2026-11-25T12:00:00.000Z"), now);
    assert.equal(parseStoredTime(undefined), undefined);
    assert.equal(parseStoredTime(""), undefined);
    assert.equal(parseStoredTime("soon"), undefined);
  });
});

describe("pushFailureLogFields", () => {
  it("keeps polling for a registration refused by the provider", () => {
    const err = new MailError("auth", "Google refused access to this mailbox.", { cause: { status: 403 } });
    assert.deepEqual(pushFailureLogFields(err, undefined), {
      event: "push_unavailable",
      err: { code: "auth", message: "Google refused access to this mailbox.", cause: { status: 403 } },
    });
  });
  it("rethrows a dead grant and anything while closing", () => {
    assert.equal(pushFailureLogFields(new MailError("needs_reauth", "reconnect"), undefined), null);
    const closing = new AbortController();
    closing.abort();
    assert.equal(pushFailureLogFields(new MailError("network", "closed"), closing.signal), null);
  });
});

describe("pollIntervalWithPush", () => {
  const push = { fallbackPollIntervalMs: 120_000 };
  it("slows polling to the fallback only while push is in force", () => {
    assert.equal(pollIntervalWithPush({ pollIntervalMs: 10_000, push, pushActive: true }), 120_000);
    assert.equal(pollIntervalWithPush({ pollIntervalMs: 10_000, push, pushActive: false }), 10_000);
    assert.equal(pollIntervalWithPush({ pollIntervalMs: 10_000, push: undefined, pushActive: true }), 10_000);
    assert.equal(pollIntervalWithPush({ pollIntervalMs: 300_000, push, pushActive: true }), 300_000);
  });
});
