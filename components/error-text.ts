import { fmt, type Dictionary, type Locale } from "@/lib/i18n";
import { ApiError } from "./email-api";

export type MailErrorCode = keyof Dictionary["mailErrors"];

/**
 * The watcher stores its last error as a sentence (lib/email/imap-errors.ts writes them); the
 * health API may not send a code with it. These patterns recover the code from that sentence so the
 * advice can be shown in the reader's language.
 */
const MESSAGE_PATTERNS: Array<[RegExp, MailErrorCode]> = [
  [/username or password|authenticat|credentials|login failed/i, "auth"],
  [/reconnect|expired|revoked|invalid_grant|lacks the .* permission/i, "needs_reauth"],
  [/could not be found \(DNS\)|ENOTFOUND|EAI_AGAIN/i, "dns"],
  [/refused|ECONNREFUSED/i, "refused"],
  [/did not answer in time|timed? ?out/i, "timeout"],
  [/TLS|certificate|SSL/i, "tls"],
  [/folder .* does not exist|NONEXISTENT/i, "folder_missing"],
  [/not allowed: it points to a private network/i, "host_not_allowed"],
  [/rate limit|too many/i, "rate_limited"],
  [/connection .* (failed|closed)|ECONNRESET|EPIPE|unreach/i, "network"],
  [/has no (username|password|server)|not enabled|no password/i, "config"],
];

export function isMailErrorCode(t: Dictionary, code: string | null | undefined): code is MailErrorCode {
  return typeof code === "string" && Object.prototype.hasOwnProperty.call(t.mailErrors, code);
}

export function guessMailErrorCode(message: string | null | undefined): MailErrorCode {
  if (!message) return "unknown";
  for (const [pattern, code] of MESSAGE_PATTERNS) if (pattern.test(message)) return code;
  return "unknown";
}

export type MailErrorText = { title: string; advice: string };

/**
 * A mail failure in plain words plus what to do. English readers get the server's own sentence
 * (it names the exact host, port or folder); others get the translation for its code.
 */
export function describeMailError(
  t: Dictionary,
  locale: Locale,
  error: { code?: string | null; message?: string | null },
  context: { host?: string | null; port?: number | string | null; folder?: string | null; protocol?: string | null },
): MailErrorText {
  const code: MailErrorCode = isMailErrorCode(t, error.code) ? error.code : guessMailErrorCode(error.message);
  const vars = {
    host: context.host || "?",
    port: context.port ?? "?",
    folder: context.folder || "INBOX",
    protocol: (context.protocol || "imap").toUpperCase(),
  };
  const entry = t.mailErrors[code];
  const serverSentence = error.message?.trim();
  const title = locale === "en" && serverSentence ? serverSentence : fmt(entry.title, vars);
  return { title, advice: fmt(entry.advice, vars) };
}

/** Any failed request as one sentence for an alert; never a raw object. */
export function describeApiError(t: Dictionary, locale: Locale, err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 0) return t.errors.network;
    if (err.status === 401) return t.errors.sessionExpired;
    if (err.status === 403) return t.errors.forbidden;
    if (err.status === 404) return t.errors.notFound;
    if (err.status === 429) return t.errors.rateLimited;
    if (isMailErrorCode(t, err.code)) return describeMailError(t, locale, err, {}).title;
    if (locale === "en" && err.message && err.status < 500) return err.message;
  }
  return t.errors.generic;
}
