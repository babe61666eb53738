import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Fernet (github.com/fernet/spec), byte-compatible with Python's `cryptography.fernet`.
 *
 * Token layout: version (1) || timestamp (8, big-endian seconds) || iv (16) || ciphertext (n*16) || hmac (32).
 * Key layout: signing key (16) || encryption key (16), url-safe base64.
 */

const VERSION = 0x80;
const HEADER_LENGTH = 1 + 8 + 16;
const HMAC_LENGTH = 32;
const BLOCK = 16;
const MAX_CLOCK_SKEW_SECONDS = 60n;

/** Every failure of this module. Messages are fixed strings so they can never echo a key or plaintext. */
export class FernetError extends Error {
  override name = "FernetError";
}

type ParsedKey = { signing: Buffer; encryption: Buffer };

/**
 * Strict url-safe base64: padded or unpadded, nothing else. Node's own decoder silently skips
 * invalid characters, which would let a mangled token or key through to later checks.
 */
function decodeUrlSafeBase64(input: string): Buffer | undefined {
  const match = /^([A-Za-z0-9_-]*)(={0,2})$/.exec(input);
  if (!match) return undefined;
  const body = match[1] ?? "";
  const padding = match[2] ?? "";
  if (body.length % 4 === 1) return undefined;
  if (padding.length > 0 && (body.length + padding.length) % 4 !== 0) return undefined;
  return Buffer.from(body, "base64url");
}

/** Python emits padded url-safe base64; keep that so tokens and keys round-trip byte for byte. */
function encodeUrlSafeBase64(data: Buffer): string {
  const body = data.toString("base64url");
  return body + "=".repeat((4 - (body.length % 4)) % 4);
}

function parseKey(key: string): ParsedKey {
  const raw = typeof key === "string" ? decodeUrlSafeBase64(key) : undefined;
  if (!raw || raw.length !== 32) {
    throw new FernetError("Invalid Fernet key: must be 32 bytes of url-safe base64.");
  }
  return { signing: raw.subarray(0, 16), encryption: raw.subarray(16) };
}

function epochSeconds(now: Date): bigint {
  const ms = now.getTime();
  if (!Number.isFinite(ms) || ms < 0) throw new FernetError("Invalid Fernet timestamp.");
  return BigInt(Math.floor(ms / 1000));
}

function sign(signingKey: Buffer, data: Buffer): Buffer {
  return createHmac("sha256", signingKey).update(data).digest();
}

export function validateFernetKey(key: string): void {
  parseKey(key);
}

/** Same shape as Python's Fernet.generate_key(): 32 random bytes, padded url-safe base64. */
export function generateFernetKey(): string {
  return encodeUrlSafeBase64(randomBytes(32));
}

export function encodeFernetToken(opts: {
  key: string;
  plaintext: Buffer | string;
  iv?: Buffer;
  now?: Date;
}): string {
  const { signing, encryption } = parseKey(opts.key);
  // A fixed iv is only for reproducing the spec's vectors; reusing one in production leaks equality.
  const iv = opts.iv ?? randomBytes(BLOCK);
  if (iv.length !== BLOCK) throw new FernetError("Invalid Fernet iv: must be 16 bytes.");
  const plaintext = typeof opts.plaintext === "string" ? Buffer.from(opts.plaintext, "utf8") : opts.plaintext;

  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt8(VERSION, 0);
  header.writeBigUInt64BE(epochSeconds(opts.now ?? new Date()), 1);
  iv.copy(header, 9);

  const cipher = createCipheriv("aes-128-cbc", encryption, iv);
  const signed = Buffer.concat([header, cipher.update(plaintext), cipher.final()]);
  return encodeUrlSafeBase64(Buffer.concat([signed, sign(signing, signed)]));
}

export function decodeFernetToken(opts: {
  keys: string[];
  token: string;
  ttlSeconds?: number;
  now?: Date;
}): Buffer {
  // Parse every key first so a bad configured key fails loudly instead of looking like a bad token.
  const keys = opts.keys.map(parseKey);
  if (keys.length === 0) throw new FernetError("No Fernet keys given.");
  const { ttlSeconds } = opts;
  if (ttlSeconds !== undefined && !(Number.isSafeInteger(ttlSeconds) && ttlSeconds >= 0)) {
    throw new FernetError("Invalid Fernet ttl: must be a non-negative integer.");
  }

  const data = typeof opts.token === "string" ? decodeUrlSafeBase64(opts.token) : undefined;
  if (!data) throw new FernetError("Invalid Fernet token: not url-safe base64.");
  const ciphertextLength = data.length - HEADER_LENGTH - HMAC_LENGTH;
  if (ciphertextLength > 0 && ciphertextLength % BLOCK !== 0) {
    throw new FernetError("Invalid Fernet token: ciphertext is not a whole number of blocks.");
  }
  // PKCS7 always adds at least one block, so anything shorter cannot be a real token.
  if (ciphertextLength < BLOCK) throw new FernetError("Invalid Fernet token: too short.");
  if (data[0] !== VERSION) throw new FernetError("Invalid Fernet token: unknown version.");

  const signed = data.subarray(0, data.length - HMAC_LENGTH);
  const mac = data.subarray(data.length - HMAC_LENGTH);
  // Key rotation: the MAC tells us which key made the token, without trying to decrypt with each.
  const key = keys.find((k) => timingSafeEqual(sign(k.signing, signed), mac));
  if (!key) throw new FernetError("Invalid Fernet token: signature does not match any key.");

  // Time checks run on authenticated data only, so forged tokens learn nothing about the policy.
  const timestamp = data.readBigUInt64BE(1);
  const now = epochSeconds(opts.now ?? new Date());
  // Python's cryptography (fernet.py _decrypt_data) checks time only when a ttl is given: expiry
  // first, then the 60 s skew rule. Without a ttl a token from a host whose clock runs ahead is fine.
  if (ttlSeconds !== undefined) {
    if (timestamp + BigInt(ttlSeconds) < now) throw new FernetError("Fernet token has expired.");
    if (now + MAX_CLOCK_SKEW_SECONDS < timestamp) {
      throw new FernetError("Invalid Fernet token: timestamp is too far in the future.");
    }
  }

  const iv = data.subarray(9, HEADER_LENGTH);
  const ciphertext = data.subarray(HEADER_LENGTH, data.length - HMAC_LENGTH);
  try {
    const decipher = createDecipheriv("aes-128-cbc", key.encryption, iv);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    // Only reachable after the MAC passed (so no padding oracle); OpenSSL's own message adds nothing.
    throw new FernetError("Invalid Fernet token: bad padding.");
  }
}
