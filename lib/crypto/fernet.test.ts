import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  decodeFernetToken,
  encodeFernetToken,
  FernetError,
  generateFernetKey,
  validateFernetKey,
} from "./fernet";
import { createSecretBox, getSecretBox } from "./secret-box";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
// The spec's vectors as shared beside the checkout; the copy in tests/vectors (same files, commit
// 20dead4 of the spec) keeps a checkout without shared/ testable.
const sharedVectors = path.resolve(repoRoot, "..", "shared", "vectors", "fernet");
const vectorsDir =
  process.env.FERNET_VECTORS_DIR ??
  (existsSync(sharedVectors) ? sharedVectors : path.resolve(repoRoot, "tests", "vectors", "fernet"));

type GenerateVector = { token: string; now: string; iv: number[]; src: string; secret: string };
type VerifyVector = { token: string; now: string; ttl_sec: number; src: string; secret: string };
type InvalidVector = { desc: string; token: string; now: string; ttl_sec: number; secret: string };

function loadVectors<T>(name: "generate" | "verify" | "invalid"): T[] {
  const vectors = JSON.parse(readFileSync(path.join(vectorsDir, `${name}.json`), "utf8")) as T[];
  // An empty file would make every loop below pass vacuously.
  assert.ok(Array.isArray(vectors) && vectors.length > 0, `${name}.json has no vectors`);
  return vectors;
}

const isFernetError = (error: unknown): boolean => error instanceof FernetError;
const unpad = (token: string): string => token.replace(/=+$/, "");

describe("Fernet spec vectors", () => {
  it("reproduces every generate token exactly", () => {
    for (const v of loadVectors<GenerateVector>("generate")) {
      const token = encodeFernetToken({
        key: v.secret,
        plaintext: v.src,
        iv: Buffer.from(v.iv),
        now: new Date(v.now),
      });
      assert.equal(token, v.token);
    }
  });

  it("accepts every verify token", () => {
    for (const v of loadVectors<VerifyVector>("verify")) {
      const plain = decodeFernetToken({ keys: [v.secret], token: v.token, ttlSeconds: v.ttl_sec, now: new Date(v.now) });
      assert.equal(plain.toString("utf8"), v.src);
    }
  });

  it("rejects every invalid token with a FernetError, for the stated reason", () => {
    // Checking the reason too guards against one early check (e.g. the MAC) masking a broken later one.
    const reasons: Record<string, RegExp> = {
      "incorrect mac": /signature/,
      "too short": /too short/,
      "invalid base64": /base64/,
      "payload size not multiple of block size": /blocks/,
      "payload padding error": /padding/,
      "far-future TS (unacceptable clock skew)": /future/,
      "expired TTL": /expired/,
      "incorrect IV (causes padding error)": /padding/,
    };
    for (const v of loadVectors<InvalidVector>("invalid")) {
      assert.throws(
        () => decodeFernetToken({ keys: [v.secret], token: v.token, ttlSeconds: v.ttl_sec, now: new Date(v.now) }),
        (e: unknown) => isFernetError(e) && (reasons[v.desc]?.test((e as Error).message) ?? true),
        v.desc,
      );
    }
  });
});

describe("encodeFernetToken / decodeFernetToken", () => {
  const key = generateFernetKey();

  it("round-trips unicode, empty and binary payloads", () => {
    for (const plaintext of ["", "héllo wörld ✓ 日本語 🔐", "x".repeat(16), "x".repeat(1000)]) {
      const token = encodeFernetToken({ key, plaintext });
      assert.equal(decodeFernetToken({ keys: [key], token }).toString("utf8"), plaintext);
    }
    const binary = Buffer.from([0, 255, 128, 10, 13, 0]);
    assert.deepEqual(decodeFernetToken({ keys: [key], token: encodeFernetToken({ key, plaintext: binary }) }), binary);
  });

  it("emits padded url-safe base64 and a fresh iv each time", () => {
    const a = encodeFernetToken({ key, plaintext: "same" });
    const b = encodeFernetToken({ key, plaintext: "same" });
    assert.match(a, /^[A-Za-z0-9_-]+=*$/);
    assert.equal(a.length % 4, 0);
    assert.notEqual(a, b);
  });

  it("accepts unpadded tokens and keys", () => {
    const [v] = loadVectors<VerifyVector>("verify");
    assert.ok(v && v.token.endsWith("="));
    const plain = decodeFernetToken({ keys: [unpad(v.secret)], token: unpad(v.token), now: new Date(v.now) });
    assert.equal(plain.toString("utf8"), v.src);
  });

  it("rejects non-url-safe characters and malformed padding", () => {
    const token = encodeFernetToken({ key: generateFernetKey(), plaintext: "x".repeat(40) });
    // Node's decoder would silently skip these; the strict decoder must not.
    const variants = [
      token.replace(/[-_]/, "+"),
      `${token.slice(0, 20)} ${token.slice(20)}`,
      `${token}\n`,
      `${unpad(token)}===`,
      `=${token}`,
      `${unpad(token)}A`, // length % 4 === 1 can never be valid base64
      "",
    ];
    for (const bad of variants) {
      assert.throws(() => decodeFernetToken({ keys: [key], token: bad }), isFernetError, JSON.stringify(bad));
    }
  });

  it("rejects a wrong version byte, a tampered ciphertext and a foreign key", () => {
    const token = encodeFernetToken({ key, plaintext: "payload" });
    const raw = Buffer.from(token, "base64url");
    const wrongVersion = Buffer.from(raw);
    wrongVersion[0] = 0x81;
    const tampered = Buffer.from(raw);
    tampered[30] = (tampered[30] ?? 0) ^ 1;
    for (const bad of [wrongVersion, tampered]) {
      assert.throws(() => decodeFernetToken({ keys: [key], token: bad.toString("base64url") }), isFernetError);
    }
    assert.throws(() => decodeFernetToken({ keys: [generateFernetKey()], token }), isFernetError);
  });

  it("enforces the ttl inclusively and 60 s of clock skew only with a ttl, as Python does", () => {
    const issued = new Date("2024-01-01T00:00:00Z");
    const token = encodeFernetToken({ key, plaintext: "t", now: issued });
    const at = (seconds: number): Date => new Date(issued.getTime() + seconds * 1000);
    assert.equal(decodeFernetToken({ keys: [key], token, ttlSeconds: 60, now: at(60) }).toString(), "t");
    assert.throws(() => decodeFernetToken({ keys: [key], token, ttlSeconds: 60, now: at(61) }), /expired/);
    assert.equal(decodeFernetToken({ keys: [key], token, now: at(10_000) }).toString(), "t");
    assert.equal(decodeFernetToken({ keys: [key], token, now: at(-60) }).toString(), "t");
    // A token from a host whose clock runs ahead: accepted without a ttl (Python: Fernet.decrypt(token)).
    assert.equal(decodeFernetToken({ keys: [key], token, now: at(-61) }).toString(), "t");
    assert.equal(decodeFernetToken({ keys: [key], token, now: at(-86_400) }).toString(), "t");
    // With a ttl the skew rule applies: now + 60 < timestamp is refused, exactly 60 s ahead is fine.
    assert.equal(decodeFernetToken({ keys: [key], token, ttlSeconds: 60, now: at(-60) }).toString(), "t");
    assert.throws(() => decodeFernetToken({ keys: [key], token, ttlSeconds: 60, now: at(-61) }), /future/);
  });

  it("tries every key so rotated keys still decrypt", () => {
    const [oldKey, newKey] = [generateFernetKey(), generateFernetKey()];
    const token = encodeFernetToken({ key: oldKey, plaintext: "rotated" });
    assert.equal(decodeFernetToken({ keys: [newKey, oldKey], token }).toString(), "rotated");
    assert.throws(() => decodeFernetToken({ keys: [newKey], token }), isFernetError);
    assert.throws(() => decodeFernetToken({ keys: [], token }), isFernetError);
  });

  it("never puts the key or plaintext in error messages", () => {
    const plaintext = "super-secret-plaintext";
    const token = encodeFernetToken({ key, plaintext });
    const failures: unknown[] = [];
    const capture = (fn: () => unknown): void => {
      try {
        fn();
      } catch (error) {
        failures.push(error);
      }
    };
    capture(() => decodeFernetToken({ keys: [generateFernetKey()], token }));
    capture(() => decodeFernetToken({ keys: [key], token: token.slice(0, 50) }));
    capture(() => validateFernetKey(key.slice(0, 40)));
    capture(() => encodeFernetToken({ key: key.slice(1), plaintext }));
    assert.equal(failures.length, 4);
    for (const error of failures) {
      assert.ok(error instanceof FernetError);
      for (const secret of [key, key.slice(0, 40), key.slice(1), plaintext]) assert.ok(!error.message.includes(secret));
    }
  });
});

describe("generateFernetKey / validateFernetKey", () => {
  it("generates 32-byte padded url-safe keys", () => {
    const key = generateFernetKey();
    assert.match(key, /^[A-Za-z0-9_-]{43}=$/);
    assert.equal(Buffer.from(key, "base64url").length, 32);
    validateFernetKey(key);
    validateFernetKey(unpad(key));
    assert.notEqual(generateFernetKey(), key);
  });

  it("rejects wrong lengths and standard-base64 alphabet", () => {
    const standardAlphabet = Buffer.alloc(32, 0xfb).toString("base64");
    assert.match(standardAlphabet, /[+/]/);
    for (const bad of ["", "short", Buffer.alloc(31).toString("base64url"), Buffer.alloc(33).toString("base64url"), standardAlphabet]) {
      assert.throws(() => validateFernetKey(bad), (e: unknown) => isFernetError(e) && /^Invalid Fernet key/.test((e as Error).message));
    }
  });
});

describe("createSecretBox", () => {
  const [k1, k2, k3] = [generateFernetKey(), generateFernetKey(), generateFernetKey()];

  it("encrypts with the newest key and decrypts tokens of older keys", () => {
    const oldBox = createSecretBox([k2]);
    const box = createSecretBox([k1, k2]);
    const fresh = box.encrypt("fresh ✓");
    const stale = oldBox.encrypt("stale");
    // Only k1 can open what the rotated box encrypts: proof that keys[0] was used.
    assert.equal(createSecretBox([k1]).decrypt(fresh), "fresh ✓");
    assert.throws(() => oldBox.decrypt(fresh), isFernetError);
    assert.equal(box.decrypt(stale), "stale");
    assert.equal(box.decrypt(box.encrypt("")), "");
  });

  it("flags tokens that only an older key opens", () => {
    const box = createSecretBox([k1, k2, k3]);
    assert.equal(box.needsRotation(box.encrypt("a")), false);
    assert.equal(box.needsRotation(createSecretBox([k2]).encrypt("b")), true);
    assert.equal(box.needsRotation(createSecretBox([k3]).encrypt("c")), true);
    assert.equal(createSecretBox([k1]).needsRotation(createSecretBox([k1]).encrypt("d")), false);
    // A token no key opens cannot be rotated; say so rather than report false.
    const foreign = createSecretBox([generateFernetKey()]).encrypt("e");
    assert.throws(() => box.needsRotation(foreign), isFernetError);
    assert.throws(() => createSecretBox([k1]).needsRotation(foreign), isFernetError);
    assert.throws(() => box.decrypt(foreign), isFernetError);
  });

  it("validates keys up front and names the bad index, not the value", () => {
    const bad = `${k3.slice(0, 20)}!!`;
    assert.throws(
      () => createSecretBox([k1, k2, bad]),
      (e: unknown) => isFernetError(e) && /index 2/.test((e as Error).message) && !(e as Error).message.includes(bad),
    );
    assert.throws(() => createSecretBox([]), isFernetError);
  });

  it("rejects payloads that are not UTF-8", () => {
    const token = encodeFernetToken({ key: k1, plaintext: Buffer.from([0xff, 0xfe]) });
    assert.throws(() => createSecretBox([k1]).decrypt(token), isFernetError);
  });

  it("getSecretBox builds one lazily from ENCRYPTION_KEYS", () => {
    // Every secret is set so parseEnv never falls back to writing dev secrets to disk.
    Object.assign(process.env, {
      APP_ENV: "test",
      ENCRYPTION_KEYS: `${k1}, ${k2}`,
      SESSION_SECRET: "test-session-secret",
      INTERNAL_API_TOKEN: "test-internal-token",
    });
    const box = getSecretBox();
    assert.equal(getSecretBox(), box);
    assert.equal(createSecretBox([k1]).decrypt(box.encrypt("env")), "env");
    assert.equal(box.needsRotation(createSecretBox([k2]).encrypt("old")), true);
  });
});

describe("Python cryptography.fernet interop", () => {
  const python = "/usr/bin/python3";
  // Key and data travel over stdin as JSON so they never show up in argv (ps) or output.
  const script = `
import base64, json, sys
from cryptography.fernet import Fernet
req = json.load(sys.stdin)
f = Fernet(req["key"].encode())
if req["op"] == "encrypt":
    sys.stdout.write(f.encrypt(base64.b64decode(req["data"])).decode())
elif req["op"] == "encrypt_at":
    sys.stdout.write(f.encrypt_at_time(base64.b64decode(req["data"]), req["time"]).decode())
elif req["op"] == "decrypt_at":
    try:
        sys.stdout.write(base64.b64encode(f.decrypt_at_time(req["data"].encode(), req["ttl"], req["time"])).decode())
    except Exception as e:
        sys.stdout.write("!" + type(e).__name__)
else:
    sys.stdout.write(base64.b64encode(f.decrypt(req["data"].encode())).decode())
`;
  const runPython = (request: { op: "encrypt" | "decrypt" | "encrypt_at" | "decrypt_at"; key: string; data: string; time?: number; ttl?: number }): string => {
    const result = spawnSync(python, ["-c", script], { input: JSON.stringify(request), encoding: "utf8" });
    assert.equal(result.status, 0, `python exited with ${result.status}`);
    return result.stdout;
  };
  const probe = spawnSync(python, ["-c", "import cryptography"], { encoding: "utf8" });
  const available = probe.status === 0;

  it("decrypts TS tokens in Python and Python tokens in TS", () => {
    assert.ok(available, "python3-cryptography is missing at /usr/bin/python3: run scripts/install-test-deps.sh (as root)");
    const key = generateFernetKey();
    for (const text of ["", "hello", "héllo wörld ✓ 日本語 🔐", "y".repeat(333)]) {
      const tsToken = encodeFernetToken({ key, plaintext: text });
      const fromPython = Buffer.from(runPython({ op: "decrypt", key, data: tsToken }), "base64").toString("utf8");
      assert.equal(fromPython, text);

      const pyToken = runPython({ op: "encrypt", key, data: Buffer.from(text, "utf8").toString("base64") });
      assert.equal(decodeFernetToken({ keys: [key], token: pyToken, ttlSeconds: 60 }).toString("utf8"), text);
      assert.equal(createSecretBox([generateFernetKey(), key]).decrypt(pyToken), text);
    }
  });

  it("applies the clock-skew rule exactly as Python does (future tokens: fine without a ttl)", () => {
    assert.ok(available, "python3-cryptography is missing at /usr/bin/python3: run scripts/install-test-deps.sh (as root)");
    const key = generateFernetKey();
    const now = Math.floor(Date.now() / 1000);
    const b64 = Buffer.from("skew").toString("base64");
    // Python made this token on a host whose clock runs 10 minutes ahead.
    const future = runPython({ op: "encrypt_at", key, data: b64, time: now + 600 });
    assert.equal(decodeFernetToken({ keys: [key], token: future, now: new Date(now * 1000) }).toString(), "skew");
    assert.equal(Buffer.from(runPython({ op: "decrypt", key, data: future }), "base64").toString(), "skew");
    for (const ahead of [59, 60, 61, 600]) {
      const token = encodeFernetToken({ key, plaintext: "skew", now: new Date((now + ahead) * 1000) });
      const python = runPython({ op: "decrypt_at", key, data: token, ttl: 3600, time: now });
      let ours: string;
      try {
        ours = Buffer.from(decodeFernetToken({ keys: [key], token, ttlSeconds: 3600, now: new Date(now * 1000) })).toString("base64");
      } catch {
        ours = "!InvalidToken";
      }
      assert.equal(ours, python, `${ahead} s ahead`);
    }
    assert.equal(runPython({ op: "decrypt_at", key, data: encodeFernetToken({ key, plaintext: "x", now: new Date((now + 61) * 1000) }), ttl: 3600, time: now }), "!InvalidToken");
  });
});
