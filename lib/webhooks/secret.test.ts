import assert from "node:assert/strict";
import { test } from "node:test";
import { Webhook } from "standardwebhooks";
import { generateWebhookSecret, isValidRawLinkToken, rawLinkToken, signWebhookPayload } from "./secret";

test("a secret is whsec_ + base64 of 32 bytes", () => {
  const secret = generateWebhookSecret();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(Buffer.from(secret.slice(6), "base64").length, 32);
});

test("the hand-computed signature equals the standardwebhooks package's", () => {
  // The spec's own example (standard-webhooks/spec): known secret, id, timestamp and body.
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const body = '{"test": 2432232314}';
  const mine = signWebhookPayload({ secret, id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330, body });
  assert.equal(mine, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  const pkg = new Webhook(secret).sign("msg_p5jXN8AQM9LWM0D4loKWxJek", new Date(1614265330 * 1000), body);
  assert.equal(pkg, mine);
});

test("raw links: valid until expiry, bound to the message", () => {
  const token = rawLinkToken({ key: "k", messageId: "m1", expires: 2000 });
  assert.equal(isValidRawLinkToken({ key: "k", messageId: "m1", expires: 2000, token, now: 1_999_000 }), true);
  assert.equal(isValidRawLinkToken({ key: "k", messageId: "m1", expires: 2000, token, now: 2_000_001 }), false);
  assert.equal(isValidRawLinkToken({ key: "k", messageId: "m2", expires: 2000, token, now: 1000 }), false);
  assert.equal(isValidRawLinkToken({ key: "other", messageId: "m1", expires: 2000, token, now: 1000 }), false);
});
