import { createHash } from "node:crypto";
import pino, { type Logger } from "pino";
import { getLogSettings } from "@/lib/env";

/** Paths that could carry a secret; pino replaces their values before a line is written. */
export const REDACT_PATHS = [
  "password",
  "*.password",
  "*.*.password",
  "accessToken",
  "*.accessToken",
  "refreshToken",
  "*.refreshToken",
  "access_token",
  "*.access_token",
  "refresh_token",
  "*.refresh_token",
  "client_secret",
  "*.client_secret",
  "clientSecret",
  "*.clientSecret",
  "authorization",
  "*.authorization",
  "*.headers.authorization",
  "*.headers.cookie",
  "cookie",
  "*.auth.pass",
  "*.auth.accessToken",
  "passwordEncrypted",
  "*.passwordEncrypted",
  "*.oauthAccessTokenEncrypted",
  "*.oauthRefreshTokenEncrypted",
  "*.oauthClientSecretEncrypted",
  // Issue 18: service account keys (encrypted column, and the parsed key).
  "*.serviceAccountKeyEncrypted",
  "*.private_key",
  "*.service_account_key",
];

/** Keys whose values are data from a query or a message, never written whatever they hold. */
const DATA_KEYS = new Set(["params", "parameters", "values", "body", "raw", "rawSource", "html", "bindings"]);
/** Fields of a pg DatabaseError that quote row values ("Key (x)=(value) already exists"). */
const ROW_VALUE_KEYS = new Set(["detail", "where", "internalQuery", "hint"]);
const MAX_DEPTH = 6;

/**
 * Drops the part of an error text that quotes data: Drizzle's "Failed query: ...\nparams: a,b"
 * and pg's "... (value) ..." details. The SQL text stays (it is ours and says which query failed).
 */
export function scrubErrorText(text: string): string {
  return text.replace(/\n?params: [\s\S]*?(?=\n\s+at |$)/g, "\nparams: [redacted]");
}

function describeBytes(value: Uint8Array): string {
  return `[${value.byteLength} bytes]`;
}

/** A copy of a log value without buffers, query parameters or message bodies, at any depth. */
export function scrubLogValue(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return describeBytes(value);
  if (value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  if (value instanceof Date) return value;
  if (seen.has(value)) return "[circular]";
  if (depth >= MAX_DEPTH) return "[deep]";
  seen.add(value);
  if (value instanceof Error) return serializeError(value, depth, seen);
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => scrubLogValue(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = DATA_KEYS.has(key) && v !== undefined && v !== null ? "[redacted]" : scrubLogValue(v, depth + 1, seen);
  }
  return out;
}

/**
 * pino's own error serializer copies every enumerable property, which for Drizzle's query errors
 * means every bound parameter (raw mail, login emails, ciphertexts). This one keeps what helps an
 * operator (type, message without data, code, constraint, stack) and follows `cause`.
 */
export function serializeError(err: Error, depth = 0, seen = new WeakSet<object>()): Record<string, unknown> {
  seen.add(err);
  const out: Record<string, unknown> = { type: err.constructor?.name ?? err.name, message: scrubErrorText(err.message) };
  if (err.stack) out.stack = scrubErrorText(err.stack);
  for (const [key, v] of Object.entries(err)) {
    if (key === "message" || key === "stack") continue;
    if (DATA_KEYS.has(key) || ROW_VALUE_KEYS.has(key)) {
      if (v !== undefined && v !== null) out[key] = "[redacted]";
      continue;
    }
    if (key === "query" && typeof v === "string") {
      out.query = v; // the SQL with $n placeholders, no values
      continue;
    }
    out[key] = typeof v === "string" ? scrubErrorText(v) : scrubLogValue(v, depth + 1, seen);
  }
  const cause = (err as { cause?: unknown }).cause;
  if (cause !== undefined && !seen.has(cause as object)) {
    out.cause = cause instanceof Error ? serializeError(cause, depth + 1, seen) : scrubLogValue(cause, depth + 1, seen);
  }
  return out;
}

/** Login logs name the account without writing the address: a stable, unsalted-per-log hint. */
export function maskEmail(email: string): string {
  const normalized = email.trim().toLowerCase();
  const at = normalized.lastIndexOf("@");
  const domain = at >= 0 ? normalized.slice(at + 1) : "";
  const digest = createHash("sha256").update(`login-email:${normalized}`).digest("hex").slice(0, 12);
  return `${digest}@${domain ? domain.replace(/^[^.]*/, (label) => `${label.slice(0, 1)}***`) : "?"}`;
}

let root: Logger | undefined;

export function getLogger(): Logger {
  root ??= pino({
    level: getLogSettings().level,
    base: { service: getLogSettings().service },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    serializers: { err: (err: unknown) => (err instanceof Error ? serializeError(err) : scrubLogValue(err)) },
    // Every other field too: a buffer or a query's parameters may sit under any key.
    formatters: { log: (object) => scrubLogValue(object) as Record<string, unknown> },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
  return root;
}

export type { Logger };
