import { randomBytes } from "node:crypto";

/** 20 random bytes in base32 (lowercase, no padding): 160 bits, not guessable, safe in a local part. */
export function generateForwardingToken(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  const bytes = randomBytes(20);
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

export function buildForwardingAddress({ token, domain }: { token: string; domain: string }): string {
  return `booking-${token}@${domain.toLowerCase()}`;
}

/**
 * The token of a recipient address on our domain, or null (another domain, another shape).
 * Case-insensitive: some forwarders lowercase or uppercase the local part. A "+tag" is ignored,
 * so booking-<token>+anything@domain still reaches the mailbox.
 */
export function parseForwardingToken({ address, domain }: { address: string; domain: string }): string | null {
  const at = address.lastIndexOf("@");
  if (at < 0) return null;
  const local = address.slice(0, at).toLowerCase();
  const host = address.slice(at + 1).toLowerCase().replace(/\.$/, "");
  if (host !== domain.toLowerCase()) return null;
  const match = /^booking-([a-z2-7]{16,64})(\+.*)?$/.exec(local);
  return match?.[1] ?? null;
}
