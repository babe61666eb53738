import { getEnv } from "@/lib/env";
import { decodeFernetToken, encodeFernetToken, FernetError, validateFernetKey } from "./fernet";

export type SecretBox = {
  /** Always encrypts with the newest key. */
  encrypt(plain: string): string;
  /** Decrypts with any configured key; throws FernetError if none fits. */
  decrypt(token: string): string;
  /** True when the token decrypts only with an older key and should be re-encrypted. */
  needsRotation(token: string): boolean;
};

// Fatal so a token that decrypts to non-UTF-8 bytes fails instead of silently turning into U+FFFD.
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** `keys` is newest first: rotate by prepending a new key and dropping old ones once re-encrypted. */
export function createSecretBox(keys: string[]): SecretBox {
  if (keys.length === 0) throw new FernetError("No Fernet keys configured.");
  keys.forEach((key, index) => {
    try {
      validateFernetKey(key);
    } catch {
      // The index is enough to find the bad entry; the value itself must never reach a log.
      throw new FernetError(`Invalid Fernet key at index ${index}: must be 32 bytes of url-safe base64.`);
    }
  });
  const [current, ...older] = [...keys] as [string, ...string[]];

  return {
    encrypt(plain: string): string {
      return encodeFernetToken({ key: current, plaintext: plain });
    },
    decrypt(token: string): string {
      const bytes = decodeFernetToken({ keys: [current, ...older], token });
      try {
        return utf8.decode(bytes);
      } catch {
        throw new FernetError("Decrypted Fernet payload is not valid UTF-8.");
      }
    },
    needsRotation(token: string): boolean {
      try {
        decodeFernetToken({ keys: [current], token });
        return false;
      } catch (error) {
        if (older.length === 0) throw error;
      }
      // Throws when no older key fits either: an undecryptable token cannot be rotated.
      decodeFernetToken({ keys: older, token });
      return true;
    },
  };
}

let cached: SecretBox | undefined;

/** Built on first use so importing this module (e.g. during `next build`) needs no secrets. */
export function getSecretBox(): SecretBox {
  cached ??= createSecretBox(getEnv().ENCRYPTION_KEYS);
  return cached;
}
