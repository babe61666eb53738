import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { ConfigError, parseEnv, silenceJitterProblem } from "./env";

const dirs: string[] = [];
function tempDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "env-test-"));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const productionSecrets = {
  APP_ENV: "production",
  DATABASE_URL: "postgres://u:p@db.example:5432/mailbox",
  ENCRYPTION_KEYS: "a".repeat(43) + "=",
  SESSION_SECRET: "session-secret",
  INTERNAL_API_TOKEN: "internal-token",
};

test("production without SESSION_SECRET fails with a ConfigError naming it", () => {
  const source: Record<string, string | undefined> = { ...productionSecrets, DATA_DIR: tempDataDir() };
  delete source.SESSION_SECRET;
  assert.throws(
    () => parseEnv(source),
    (err: unknown) => err instanceof ConfigError && /SESSION_SECRET/.test(err.message),
  );
});

test("production names every missing secret and writes no development secrets", () => {
  const dataDir = tempDataDir();
  assert.throws(
    () => parseEnv({ APP_ENV: "production", DATABASE_URL: productionSecrets.DATABASE_URL, DATA_DIR: dataDir }),
    (err: unknown) =>
      err instanceof ConfigError &&
      /ENCRYPTION_KEYS/.test(err.message) &&
      /SESSION_SECRET/.test(err.message) &&
      /INTERNAL_API_TOKEN/.test(err.message),
  );
  assert.equal(existsSync(path.join(dataDir, "dev-secrets.json")), false);
});

test("production without DATABASE_URL fails instead of using an embedded database", () => {
  const source: Record<string, string | undefined> = { ...productionSecrets, DATA_DIR: tempDataDir() };
  delete source.DATABASE_URL;
  assert.throws(() => parseEnv(source), (err: unknown) => err instanceof ConfigError && /DATABASE_URL/.test(err.message));
});

test("a secret set to blank counts as missing", () => {
  assert.throws(
    () => parseEnv({ ...productionSecrets, SESSION_SECRET: "  ", DATA_DIR: tempDataDir() }),
    (err: unknown) => err instanceof ConfigError && /SESSION_SECRET/.test(err.message),
  );
});

test("defaults: development, embedded database, localhost URL, 12 h sessions", () => {
  const dataDir = tempDataDir();
  const env = parseEnv({ DATA_DIR: dataDir });
  assert.equal(env.APP_ENV, "development");
  assert.equal(env.usesEmbeddedDatabase, true);
  assert.equal(env.DATABASE_URL, "postgres://postgres:postgres@127.0.0.1:54329/mailbox");
  assert.equal(env.APP_URL, "http://localhost:3000");
  assert.equal(env.PORT, 3000);
  assert.equal(env.WATCHER_PORT, 9464);
  assert.equal(env.SESSION_TTL_HOURS, 12);
  assert.equal(env.MAIL_ALLOW_PRIVATE_HOSTS, false);
  assert.equal(env.EMAIL_IDLE_TIMEOUT_SECONDS, 1740);
  assert.equal(env.LOG_LEVEL, "info");
  assert.equal(env.DATA_DIR, path.resolve(dataDir));
});

test("development generates secrets once and keeps them in DATA_DIR", () => {
  const dataDir = tempDataDir();
  const first = parseEnv({ DATA_DIR: dataDir });
  const second = parseEnv({ DATA_DIR: dataDir });
  assert.equal(first.SESSION_SECRET, second.SESSION_SECRET);
  assert.equal(first.INTERNAL_API_TOKEN, second.INTERNAL_API_TOKEN);
  assert.deepEqual(first.ENCRYPTION_KEYS, second.ENCRYPTION_KEYS);
  assert.equal(first.ENCRYPTION_KEYS.length, 1);
  // A Fernet key: 32 bytes, padded url-safe base64.
  assert.match(first.ENCRYPTION_KEYS[0] ?? "", /^[A-Za-z0-9_-]{43}=$/);
  const stored = JSON.parse(readFileSync(path.join(dataDir, "dev-secrets.json"), "utf8")) as Record<string, string>;
  assert.equal(stored.SESSION_SECRET, first.SESSION_SECRET);
});

test("secrets from the environment win over generated ones; ENCRYPTION_KEYS is a trimmed list", () => {
  const env = parseEnv({
    DATA_DIR: tempDataDir(),
    SESSION_SECRET: "from-env",
    INTERNAL_API_TOKEN: "token",
    ENCRYPTION_KEYS: " new-key , old-key ,, ",
  });
  assert.equal(env.SESSION_SECRET, "from-env");
  assert.deepEqual(env.ENCRYPTION_KEYS, ["new-key", "old-key"]);
});

test("booleans accept true/false/1/0/yes/no and reject anything else", () => {
  const dataDir = tempDataDir();
  for (const [raw, expected] of [
    ["true", true],
    ["1", true],
    ["yes", true],
    ["false", false],
    ["0", false],
    ["no", false],
  ] as const) {
    assert.equal(parseEnv({ DATA_DIR: dataDir, MAIL_ALLOW_PRIVATE_HOSTS: raw }).MAIL_ALLOW_PRIVATE_HOSTS, expected, raw);
  }
  assert.throws(
    () => parseEnv({ DATA_DIR: dataDir, MAIL_ALLOW_PRIVATE_HOSTS: "maybe" }),
    (err: unknown) => err instanceof ConfigError && /MAIL_ALLOW_PRIVATE_HOSTS/.test(err.message),
  );
});

test("numbers are coerced and validated; APP_URL loses its trailing slash", () => {
  const dataDir = tempDataDir();
  const env = parseEnv({ DATA_DIR: dataDir, PORT: "8080", SESSION_TTL_HOURS: "1", APP_URL: "https://mail.example.com/" });
  assert.equal(env.PORT, 8080);
  assert.equal(env.SESSION_TTL_HOURS, 1);
  assert.equal(env.APP_URL, "https://mail.example.com");
  assert.throws(() => parseEnv({ DATA_DIR: dataDir, PORT: "zero" }), ConfigError);
  assert.throws(() => parseEnv({ DATA_DIR: dataDir, SESSION_TTL_HOURS: "0" }), ConfigError);
  assert.throws(() => parseEnv({ DATA_DIR: dataDir, APP_URL: "not a url" }), ConfigError);
});

test("DATABASE_URL set means no embedded database", () => {
  const env = parseEnv({ DATA_DIR: tempDataDir(), DATABASE_URL: "postgres://x:y@db:5432/app" });
  assert.equal(env.usesEmbeddedDatabase, false);
  assert.equal(env.DATABASE_URL, "postgres://x:y@db:5432/app");
});

test("silence jitter: the defaults keep every IDLE bound above Dovecot's 120 s; more than half a bound is refused", () => {
  const defaults = parseEnv({ DATA_DIR: tempDataDir() });
  assert.equal(defaults.EMAIL_IDLE_KEEPALIVE_SECONDS, 130);
  assert.equal(defaults.EMAIL_IDLE_SILENCE_JITTER_SECONDS, 8);
  // The shortest jittered IDLE bound, 122 s, stays above Dovecot's "Still here" every 120 s.
  assert.equal(defaults.EMAIL_IDLE_KEEPALIVE_SECONDS - defaults.EMAIL_IDLE_SILENCE_JITTER_SECONDS, 122);
  assert.equal(silenceJitterProblem(defaults), undefined);
  assert.equal(silenceJitterProblem({ EMAIL_IDLE_SILENCE_SECONDS: 60, EMAIL_IDLE_SILENCE_JITTER_SECONDS: 30 }), undefined);
  assert.equal(
    silenceJitterProblem({ EMAIL_IDLE_SILENCE_SECONDS: 60, EMAIL_IDLE_SILENCE_JITTER_SECONDS: 31 }),
    "EMAIL_IDLE_SILENCE_JITTER_SECONDS: 31 s would cut the 60 s silence bound below half; use at most 30",
  );
  assert.equal(
    silenceJitterProblem({ EMAIL_IDLE_SILENCE_SECONDS: 20, EMAIL_IDLE_SILENCE_JITTER_SECONDS: 11 }),
    "EMAIL_IDLE_SILENCE_JITTER_SECONDS: 11 s would cut the 20 s silence bound below half; use at most 10",
  );
  assert.throws(
    () => parseEnv({ DATA_DIR: tempDataDir(), EMAIL_IDLE_SILENCE_JITTER_SECONDS: "45" }),
    (err: unknown) => err instanceof ConfigError && /EMAIL_IDLE_SILENCE_JITTER_SECONDS: 45 s would cut the 60 s silence bound/.test(err.message),
  );
});
