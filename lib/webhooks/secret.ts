import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes (the key the HMAC uses). */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/**
 * The spec's signature, computed by hand (it is what the receiver test checks the package against):
 * HMAC-SHA256 over `${id}.${timestamp}.${body}` with the base64-decoded secret, as `v1,<base64>`.
 */
export function signWebhookPayload({ secret, id, timestamp, body }: { secret: string; id: string; timestamp: number; body: string }): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

/** Token for the raw-source link: HMAC of message id and expiry with a key derived from SESSION_SECRET. */
export function rawLinkToken({ key, messageId, expires }: { key: string; messageId: string; expires: number }): string {
  return createHmac("sha256", `webhook-raw-link:${key}`).update(`${messageId}.${expires}`).digest("base64url");
}

export function isValidRawLinkToken({
  key,
  messageId,
  expires,
  token,
  now = Date.now(),
}: {
  key: string;
  messageId: string;
  expires: number;
  token: string;
  now?: number;
}): boolean {
  if (!Number.isFinite(expires) || expires * 1000 < now) return false;
  const expected = Buffer.from(rawLinkToken({ key, messageId, expires }));
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
