import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";

const bool = (fallback: boolean): z.ZodType<boolean> =>
  z
    .enum(["true", "false", "1", "0", "yes", "no"])
    .optional()
    .transform((v) => (v === undefined ? fallback : v === "true" || v === "1" || v === "yes"));

const int = (fallback: number, min = 0): z.ZodType<number> =>
  z.coerce.number().int().min(min).optional().transform((v) => v ?? fallback);

const url = (fallback: string): z.ZodType<string> =>
  z.url().optional().transform((v) => (v ?? fallback).replace(/\/+$/, ""));

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const optionalUrl = optionalText.pipe(z.url().optional());

const schema = z.object({
  APP_ENV: z.enum(["development", "test", "production"]).default("development"),
  DATA_DIR: z.string().default(".data"),
  DATABASE_URL: optionalText,
  EMBEDDED_PG_PORT: int(54329, 1),
  APP_URL: url("http://localhost:3000"),
  PORT: int(3000, 1),
  ENCRYPTION_KEYS: optionalText,
  SESSION_SECRET: optionalText,
  INTERNAL_API_TOKEN: optionalText,
  WATCHER_PORT: int(9464, 0),
  /** Interface for the watcher's /health and /metrics: loopback unless a deployment says otherwise. */
  WATCHER_BIND_ADDRESS: z.string().trim().min(1).default("127.0.0.1"),
  /** Reverse proxies in front of the web app that append to X-Forwarded-For; 0 = use the TCP peer. */
  TRUSTED_PROXY_HOPS: int(0, 0),
  /** Upper bounds for getting a pooled database connection and for one SQL statement. */
  DATABASE_CONNECT_TIMEOUT_SECONDS: int(10, 1),
  DATABASE_STATEMENT_TIMEOUT_SECONDS: int(30, 1),
  MAIL_ALLOW_PRIVATE_HOSTS: bool(false),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  SESSION_TTL_HOURS: int(12, 1),

  GOOGLE_OAUTH_CLIENT_ID: optionalText,
  GOOGLE_OAUTH_CLIENT_SECRET: optionalText,
  GOOGLE_OAUTH_REDIRECT_URI: optionalText,
  GOOGLE_OAUTH_AUTHORIZATION_URL: url("https://accounts.google.com/o/oauth2/v2/auth"),
  GOOGLE_OAUTH_TOKEN_URL: url("https://oauth2.googleapis.com/token"),
  GOOGLE_OAUTH_REVOCATION_URL: url("https://oauth2.googleapis.com/revoke"),
  GOOGLE_OAUTH_USERINFO_URL: url("https://openidconnect.googleapis.com/v1/userinfo"),
  GMAIL_API_BASE_URL: url("https://gmail.googleapis.com"),
  GMAIL_PUBSUB_TOPIC: optionalText,
  GMAIL_POLL_SECONDS: int(10, 1),
  /** Pub/Sub authenticated push: the token's audience (default $APP_URL/api/webhooks/gmail) and signer. */
  GMAIL_PUSH_AUDIENCE: optionalText,
  GMAIL_PUSH_SERVICE_ACCOUNT: optionalText,
  GOOGLE_OIDC_JWKS_URL: url("https://www.googleapis.com/oauth2/v3/certs"),
  GOOGLE_OIDC_ISSUER: url("https://accounts.google.com"),

  MICROSOFT_OAUTH_CLIENT_ID: optionalText,
  MICROSOFT_OAUTH_CLIENT_SECRET: optionalText,
  MICROSOFT_OAUTH_TENANT_ID: z.string().default("common"),
  MICROSOFT_OAUTH_REDIRECT_URI: optionalText,
  MICROSOFT_OAUTH_AUTHORITY: url("https://login.microsoftonline.com"),
  GRAPH_API_BASE_URL: url("https://graph.microsoft.com/v1.0"),
  GRAPH_POLL_SECONDS: int(10, 1),
  /** Public https URL of /api/webhooks/graph; set it to turn on Graph change notifications. */
  GRAPH_NOTIFICATION_URL: optionalUrl,
  /** Graph caps Outlook message subscriptions at 10,080 minutes; renewed at half their lifetime. */
  GRAPH_SUBSCRIPTION_MINUTES: int(4230, 45).pipe(z.number().max(10_080)),
  /** While push is active, the history/delta polling that backs it up runs this often. */
  API_PUSH_FALLBACK_POLL_SECONDS: int(120, 1),
  MICROSOFT_OAUTH_USERINFO_URL: url("https://graph.microsoft.com/oidc/userinfo"),
  /** Access tokens are refreshed this long before they expire (seed §5.3 refresh_token_if_needed). */
  OAUTH_REFRESH_SKEW_SECONDS: int(300, 0),
  /** Upper bound for one call to an OAuth endpoint (token, revoke, userinfo). */
  OAUTH_HTTP_TIMEOUT_SECONDS: int(15, 1),

  EMAIL_IDLE_TIMEOUT_SECONDS: int(1740, 1),
  EMAIL_CONNECTION_POOL_SIZE: int(5, 1),
  EMAIL_RETRY_MAX_ATTEMPTS: int(3, 1),
  EMAIL_FETCH_BATCH_SIZE: int(50, 1),
  // Safety sync + reconcile even while IDLE: the net for a lost notification or a cursor bug. 300 s
  // keeps 2,000 idle mailboxes near 2 % of a core (docs/benchmarks-capacity.md); 60 s cost ~9 %.
  EMAIL_RECONCILE_SECONDS: int(300, 1),
  /** Reconcile compares this recent window at the provider with what is stored (hours). */
  EMAIL_RECONCILE_WINDOW_HOURS: int(72, 1),
  /** Largest message fetched whole (default 50 MiB); a larger one is stored too_large with its headers. */
  EMAIL_MAX_MESSAGE_BYTES: int(50 * 1024 * 1024, 1024),
  /** Bodies buffered per fetch batch (default 32 MiB); a single message above it is fetched alone. */
  EMAIL_FETCH_BATCH_BYTES: int(32 * 1024 * 1024, 1024),
  EMAIL_BACKOFF_MIN_SECONDS: int(2, 0),
  EMAIL_BACKOFF_MAX_SECONDS: int(30, 1),
  EMAIL_CONNECT_TIMEOUT_SECONDS: int(15, 1),
  /** Longest protocol line a tenant's mail server may send (a hostile one can send one endless line). */
  EMAIL_MAX_LINE_BYTES: int(16 * 1024 * 1024, 1024),
  /** Largest single IMAP response / literal (one message) the watcher accepts from a mail server. */
  EMAIL_MAX_RESPONSE_BYTES: int(128 * 1024 * 1024, 1024 * 1024),
  /** MIME parsing runs in worker threads: each gets this much heap and this much time per message. */
  EMAIL_PARSE_THREADS: int(2, 1),
  EMAIL_PARSE_MAX_HEAP_MB: int(512, 32),
  EMAIL_PARSE_TIMEOUT_SECONDS: int(30, 1),
  /** Text and HTML bodies are cut to this many characters (a warning says so); the raw source is kept whole. */
  EMAIL_MAX_BODY_CHARS: int(1_000_000, 1000),
  /** An IMAP/POP3 command fails (and the connection is dropped) after this long without a byte back. */
  EMAIL_COMMAND_TIMEOUT_SECONDS: int(30, 1),
  // An IMAP IDLE (or a polling wait) that hears nothing this long is checked with DONE + NOOP; no
  // answer within 15 s means a dead path and a reconnect. Dovecot speaks every 2 min while idling.
  EMAIL_IDLE_SILENCE_SECONDS: int(60, 1),

  // Read elsewhere before issue 17; validated here now like everything else.
  /** Connections in each process's database pool. */
  DB_POOL_SIZE: int(10, 1),
  /** The watcher's full reload from the database (safety net for NOTIFY); 5 s: a killed replica's mailboxes are claimed within one tick. */
  WATCHER_RECONCILE_SECONDS: int(5, 1),
  /** The `service` field of every log line ("web" or "watcher"). */
  SERVICE_NAME: z.string().trim().min(1).default("web"),
});

type ParsedEnv = z.infer<typeof schema>;
export type Env = Omit<ParsedEnv, "ENCRYPTION_KEYS" | "SESSION_SECRET" | "INTERNAL_API_TOKEN" | "DATABASE_URL"> & {
  DATABASE_URL: string;
  ENCRYPTION_KEYS: string[];
  SESSION_SECRET: string;
  INTERNAL_API_TOKEN: string;
  usesEmbeddedDatabase: boolean;
};

const SECRET_NAMES = ["ENCRYPTION_KEYS", "SESSION_SECRET", "INTERNAL_API_TOKEN"] as const;
type SecretName = (typeof SECRET_NAMES)[number];

export class ConfigError extends Error {
  override name = "ConfigError";
}

function generateSecret(name: SecretName): string {
  // A Fernet key is 32 random bytes, url-safe base64 (as Python's Fernet.generate_key()).
  if (name === "ENCRYPTION_KEYS") return randomBytes(32).toString("base64url") + "=";
  return randomBytes(32).toString("base64url");
}

/** Development only: secrets are made once and kept in DATA_DIR so restarts can still decrypt. */
function loadDevelopmentSecrets(dataDir: string): Record<SecretName, string> {
  const file = path.join(dataDir, "dev-secrets.json");
  const existing: Partial<Record<SecretName, string>> = existsSync(file)
    ? (JSON.parse(readFileSync(file, "utf8")) as Partial<Record<SecretName, string>>)
    : {};
  let changed = false;
  for (const name of SECRET_NAMES) {
    if (!existing[name]) {
      existing[name] = generateSecret(name);
      changed = true;
    }
  }
  if (changed) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(existing, null, 2), { mode: 0o600 });
  }
  return existing as Record<SecretName, string>;
}

export function parseEnv(source: Record<string, string | undefined>): Env {
  const result = schema.safeParse(source);
  if (!result.success) {
    const details = result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`Invalid configuration: ${details}`);
  }
  const parsed = result.data;
  const dataDir = path.resolve(parsed.DATA_DIR);
  const missing = SECRET_NAMES.filter((name) => !parsed[name]);
  let fallback: Partial<Record<SecretName, string>> = {};
  if (missing.length > 0) {
    if (parsed.APP_ENV === "production") {
      throw new ConfigError(`Missing required secret(s): ${missing.join(", ")}. Set them in the environment.`);
    }
    fallback = loadDevelopmentSecrets(dataDir);
  }
  const secret = (name: SecretName): string => (parsed[name] ?? fallback[name]) as string;
  if (parsed.APP_ENV === "production" && !parsed.DATABASE_URL) {
    throw new ConfigError("Missing DATABASE_URL: production does not start an embedded database.");
  }
  return {
    ...parsed,
    DATA_DIR: dataDir,
    DATABASE_URL:
      parsed.DATABASE_URL ?? `postgres://postgres:postgres@127.0.0.1:${parsed.EMBEDDED_PG_PORT}/mailbox`,
    usesEmbeddedDatabase: !parsed.DATABASE_URL,
    ENCRYPTION_KEYS: secret("ENCRYPTION_KEYS")
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean),
    SESSION_SECRET: secret("SESSION_SECRET"),
    INTERNAL_API_TOKEN: secret("INTERNAL_API_TOKEN"),
  };
}

/**
 * What the logger needs, without validating (and so without being able to fail on) the rest of
 * the configuration: a ConfigError must still be logged. Same defaults as the schema.
 */
export function getLogSettings(): { level: Env["LOG_LEVEL"]; service: string } {
  const level = schema.shape.LOG_LEVEL.safeParse(process.env.LOG_LEVEL);
  const service = schema.shape.SERVICE_NAME.safeParse(process.env.SERVICE_NAME);
  return { level: level.success ? level.data : "info", service: service.success ? service.data : "web" };
}

let cached: Env | undefined;

/** Validated once per process, lazily so that `next build` does not need runtime secrets. */
export function getEnv(): Env {
  cached ??= parseEnv(process.env);
  return cached;
}
