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
  /** Issue 18: delta poll interval of Microsoft 365 shared mailboxes (no change notifications for them). */
  GRAPH_SHARED_POLL_SECONDS: int(15, 1),
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
  // answer within EMAIL_PROBE_TIMEOUT_SECONDS means a dead path and an immediate reconnect.
  EMAIL_IDLE_SILENCE_SECONDS: int(60, 1),
  // How long the silence-check NOOP may go unanswered (never more than the command timeout).
  EMAIL_PROBE_TIMEOUT_SECONDS: int(10, 1),
  // Each connection takes a fixed share of this off its silence bounds, so that thousands of
  // mailboxes (Dovecot phases its keepalives per client IP) are not asked in the same second.
  // 8 s keeps the default IDLE bounds at 122-130 s, above Dovecot's 120 s keepalive.
  EMAIL_IDLE_SILENCE_JITTER_SECONDS: int(8, 0),

  // Background jobs (lib/jobs, pg-boss): its tables live in their own schema of DATABASE_URL.
  JOBS_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .default("pgboss"),
  /**
   * How often an idle job worker asks for work anyway (ms; pg-boss's floor is 500). Jobs wake their
   * workers by NOTIFY at commit, so this is only the safety net (a notification missed while the
   * listener reconnected, pg-boss's own retries); 1 s polling cost an idle watcher ~1 % of a core.
   */
  JOBS_POLL_MS: int(30_000, 500),
  /** pg-boss maintenance: expired (crashed) jobs are retried and old ones archived this often. */
  JOBS_MAINTENANCE_SECONDS: int(60, 1),

  // Webhooks to downstream systems (issue 15): Standard Webhooks signatures, at-least-once delivery.
  /** Upper bound for one delivery attempt (connect + answer). */
  WEBHOOK_TIMEOUT_SECONDS: int(10, 1),
  /** Retries back off exponentially from this delay up to the max, with +-25 % jitter... */
  WEBHOOK_RETRY_BASE_SECONDS: int(30, 1),
  WEBHOOK_RETRY_MAX_SECONDS: int(3600, 1),
  /** ...for this long after the event (a day); then the delivery is marked failed and can be replayed. */
  WEBHOOK_RETRY_WINDOW_SECONDS: int(86_400, 1),
  /** Parallel delivery pollers per watcher replica (each takes up to 10 jobs per poll). */
  WEBHOOK_DELIVERY_CONCURRENCY: int(4, 1),
  /** The raw-source link in message.received stays valid this long. */
  WEBHOOK_RAW_LINK_HOURS: int(168, 1),

  // Retention (issue 15): what the daily prune removes, per kind; 0 keeps that kind forever.
  /** Raw sources (the message row and its metadata stay, so stats and the list still work). */
  RETENTION_RAW_DAYS: int(90, 0),
  RETENTION_MAILBOX_EVENTS_DAYS: int(30, 0),
  RETENTION_LOGIN_ATTEMPTS_DAYS: int(7, 0),
  /** Finished webhook deliveries and their events. */
  RETENTION_WEBHOOK_DAYS: int(30, 0),
  /** When the prune runs (cron, UTC); pg-boss runs each tick once across all watcher replicas. */
  RETENTION_CRON: z.string().trim().min(9).default("17 3 * * *"),

  // Inbound SMTP for forwarding mailboxes (issue 16): `npm run start:inbound`.
  /** Forwarding addresses are booking-<token>@INBOUND_DOMAIN; the domain's MX points at the inbound server. */
  INBOUND_DOMAIN: z.string().trim().toLowerCase().min(1).default("inbound.localhost"),
  INBOUND_SMTP_PORT: int(2525, 0),
  INBOUND_BIND_ADDRESS: z.string().trim().min(1).default("0.0.0.0"),
  /** Name in the greeting and in Authentication-Results (defaults to the host name). */
  INBOUND_HOSTNAME: optionalText,
  /** PEM files for STARTTLS; without both, STARTTLS is not offered. */
  INBOUND_TLS_KEY_FILE: optionalText,
  INBOUND_TLS_CERT_FILE: optionalText,
  /** Announced in EHLO SIZE; a larger DATA is refused 552 and nothing is stored. */
  INBOUND_MAX_MESSAGE_BYTES: int(25 * 1024 * 1024, 1024),
  /** Idle socket timeout per SMTP connection. */
  INBOUND_SOCKET_TIMEOUT_SECONDS: int(60, 1),
  INBOUND_MAX_CLIENTS: int(200, 1),
  INBOUND_MAX_CONNECTIONS_PER_IP: int(20, 1),
  /** Messages (MAIL FROM) one client address may start per minute; more get 421 4.7.0. */
  INBOUND_MAX_MESSAGES_PER_MINUTE_PER_IP: int(600, 1),
  /** Comma-separated DNS servers (host or host:port) for SPF/DKIM/DMARC/ARC; empty: the system's. */
  INBOUND_DNS_SERVERS: optionalText,
  /** Port of the inbound server's /health (loopback unless INBOUND_HEALTH_BIND_ADDRESS says otherwise); 0 = off. */
  INBOUND_HEALTH_PORT: int(9465, 0),
  INBOUND_HEALTH_BIND_ADDRESS: z.string().trim().min(1).default("127.0.0.1"),

  // Issues 19 + 13: an IDLE connection is asked only after this long a silence (any byte counts,
  // Dovecot's "Still here" every 120 s too); 130 s: a live Dovecot is never asked (flat idle cost).
  // The endpoint's sentinel (below) finds a frozen path sooner; a single dropped flow that is not the
  // sentinel's is found in ~140 s. At or below EMAIL_IDLE_SILENCE_SECONDS: that value.
  EMAIL_IDLE_KEEPALIVE_SECONDS: int(130, 1),
  // Issue 13 item 6 at issue 19's cost: one IDLE connection per server endpoint (its "sentinel") is
  // asked after this long a silence instead; when any connection there is found dead, all the
  // others are asked at once. A frozen endpoint is found in ~90 + 10 + 10 s; a single dropped flow
  // (not the sentinel's) still waits EMAIL_IDLE_KEEPALIVE_SECONDS. At or above that value: no sentinel.
  EMAIL_IDLE_SENTINEL_SECONDS: int(90, 1),
  // Issue 19: connects at once start at EMAIL_CONNECTION_POOL_SIZE and grow while the server keeps
  // answering as fast as it did (watcher/connect-gate.ts), up to this many.
  EMAIL_CONNECTION_POOL_MAX: int(50, 1),

  // Issue 15: admin alerts. A mailbox failing longer than the grace (needs_reauth and paused: at once)
  // mails every admin once; healthy again for ALERT_RECOVERY_SECONDS mails once more. A new failure
  // alert waits ALERT_COOLDOWN_SECONDS after the last alert, so a flapping server sends no stream.
  ALERT_GRACE_SECONDS: int(600, 0),
  ALERT_RECOVERY_SECONDS: int(120, 0),
  ALERT_COOLDOWN_SECONDS: int(3600, 0),
  /** One scan of due alerts (an indexed query) this often, whatever the number of mailboxes. */
  ALERT_SCAN_SECONDS: int(30, 1),
  /** Outgoing alert mail, e.g. smtp://user:pass@smtp.example.com:587; unset: alerts stay in-app. */
  SMTP_URL: optionalText,
  /** From address of alert mail, e.g. "Mailbox alerts <alerts@example.com>". */
  ALERT_FROM: optionalText,
  /** Pause a mailbox after this many sign-in failures within EMAIL_PAUSE_WINDOW_SECONDS (0 = never). */
  EMAIL_PAUSE_AFTER_AUTH_FAILURES: int(5, 0),
  EMAIL_PAUSE_WINDOW_SECONDS: int(7200, 1),
  /** Wait after a rejected sign-in before the next try (wrong credentials do not fix themselves). */
  EMAIL_AUTH_RETRY_SECONDS: int(900, 1),
  /** Quiet-mailbox warning: needs this many messages in the last ALERT_QUIET_HISTORY_DAYS days... */
  ALERT_QUIET_MIN_SAMPLES: int(20, 2),
  ALERT_QUIET_HISTORY_DAYS: int(30, 1),
  /** ...and fires when no mail came for FACTOR x the typical (95th percentile) gap, at least MIN_SECONDS. */
  ALERT_QUIET_FACTOR: int(3, 1),
  ALERT_QUIET_MIN_SECONDS: int(4 * 3600, 0),
  ALERT_QUIET_SCAN_SECONDS: int(300, 1),

  // Read elsewhere before issue 17; validated here now like everything else.
  /** Connections in each process's database pool. */
  DB_POOL_SIZE: int(10, 1),
  /** The watcher's full reload from the database (safety net for NOTIFY); 5 s: a killed replica's mailboxes are claimed within one tick. */
  WATCHER_RECONCILE_SECONDS: int(5, 1),
  /**
   * How often a replica counts the others' presence locks to notice one that died without a word
   * (SIGKILL); the reconcile tick's heartbeat notices it too, so this only shortens the takeover.
   * 1 s: a 3 s poll once measured a 17.7 s SIGKILL takeover under load (bound 15 s,
   * tests/integration/watcher-replicas.test.ts; docs/benchmarks.md §3), so the default stays.
   */
  WATCHER_PRESENCE_POLL_MS: int(1000, 100),
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

/**
 * The silence jitter may take at most half of a silence bound: more would turn some connections'
 * check into a question every few seconds (and the watchdog would cut it to half anyway, silently).
 * The polling bound EMAIL_IDLE_SILENCE_SECONDS is the shorter one (an IDLE bound is never below
 * it), so holding it there keeps EMAIL_IDLE_KEEPALIVE_SECONDS - jitter above half as well.
 * Returns what is wrong, or undefined.
 */
export function silenceJitterProblem(
  env: Pick<ParsedEnv, "EMAIL_IDLE_SILENCE_SECONDS" | "EMAIL_IDLE_SILENCE_JITTER_SECONDS">,
): string | undefined {
  const jitter = env.EMAIL_IDLE_SILENCE_JITTER_SECONDS;
  const shortestBound = env.EMAIL_IDLE_SILENCE_SECONDS;
  if (shortestBound - jitter >= shortestBound / 2) return undefined;
  return `EMAIL_IDLE_SILENCE_JITTER_SECONDS: ${jitter} s would cut the ${shortestBound} s silence bound below half; use at most ${Math.floor(shortestBound / 2)}`;
}

export function parseEnv(source: Record<string, string | undefined>): Env {
  const result = schema.safeParse(source);
  if (!result.success) {
    const details = result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`Invalid configuration: ${details}`);
  }
  const parsed = result.data;
  const jitterProblem = silenceJitterProblem(parsed);
  if (jitterProblem) throw new ConfigError(`Invalid configuration: ${jitterProblem}`);
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
