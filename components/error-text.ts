import { isMailErrorCode as isKnownMailErrorCode, type MailErrorCode } from "@/lib/api/error-codes";
import type { Dictionary, Locale } from "@/lib/i18n";
import { mailErrorWords, type MailErrorContext } from "@/lib/i18n/mail-error-words";
import { ApiError } from "./email-api";

export type { MailErrorCode };

/**
 * A mail error code the dictionary has words for. Every code of lib/api/error-codes.ts has en/tr
 * texts (lib/i18n/i18n.test.ts checks it), so this is the contract's own check.
 */
export function isMailErrorCode(code: string | null | undefined): code is MailErrorCode {
  return isKnownMailErrorCode(code);
}

export type MailErrorText = { title: string; advice: string };

/**
 * A mail failure in plain words plus what to do, chosen by the server's stable code (stored with
 * the mailbox's last error, returned by the Test call); the sentence is never parsed. English
 * readers get the server's own sentence as the title (it names the exact host, port or folder);
 * others get the translation for the code.
 */
export function describeMailError(
  t: Dictionary,
  locale: Locale,
  error: { code?: string | null; message?: string | null },
  context: MailErrorContext,
): MailErrorText {
  const words = mailErrorWords(t, error.code, context);
  const serverSentence = error.message?.trim();
  return { title: locale === "en" && serverSentence ? serverSentence : words.title, advice: words.advice };
}

/**
 * Any failed request as one sentence for an alert; never a raw object. `fallback` replaces the
 * generic "something went wrong" where the caller knows what failed ("could not be saved").
 */
export function describeApiError(t: Dictionary, locale: Locale, err: unknown, fallback: string = t.errors.generic): string {
  if (err instanceof ApiError) {
    if (err.status === 0) return t.errors.network;
    if (err.status === 401) return t.errors.sessionExpired;
    if (err.status === 403) return t.errors.forbidden;
    if (err.status === 404) return t.errors.notFound;
    if (err.status === 429) return t.errors.rateLimited;
    if (isMailErrorCode(err.code)) return describeMailError(t, locale, err, {}).title;
    if (locale === "en" && err.message && err.status < 500) return err.message;
  }
  return fallback;
}
