import { fmt, getDictionary, intlTag, type Locale } from "@/lib/i18n";
import { isLocale } from "@/lib/i18n";
import { mailErrorWords } from "@/lib/i18n/mail-error-words";

export type AlertEmailInput = {
  locale: string;
  kind: "failure" | "recovery" | "quiet";
  /** MailErrorCode of the failure; the text comes from the dictionary, never from the server's sentence. */
  code: string | null;
  tenantName: string;
  purpose: "booking" | "stopsale";
  address: string | null;
  host: string | null;
  port: number | null;
  folder: string | null;
  protocol: string | null;
  /** Failure: since when; quiet: when the last message arrived. */
  since: Date | null;
  now: Date;
  settingsUrl: string;
};

export type AlertEmail = { subject: string; text: string };

/** "2026-01-01 10:05 UTC": the same in every language, and unambiguous across time zones. */
export function formatUtc(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** "6 hours" / "6 saat"; minutes under an hour. */
export function formatQuietDuration(locale: Locale, ms: number): string {
  const hours = ms / 3600_000;
  const [value, unit] = hours >= 1 ? [Math.round(hours), "hour"] : [Math.max(1, Math.round(ms / 60_000)), "minute"];
  return new Intl.NumberFormat(intlTag(locale), { style: "unit", unit, unitDisplay: "long" }).format(value);
}

/** One alert email in the recipient's language (en / tr; anything else reads English). */
export function buildAlertEmail(input: AlertEmailInput): AlertEmail {
  const locale: Locale = isLocale(input.locale) ? input.locale : "en";
  const t = getDictionary(locale);
  const a = t.alerts;
  const vars = {
    mailbox: a.mailbox[input.purpose],
    address: input.address ?? "",
    tenant: input.tenantName,
    url: input.settingsUrl,
    since: input.since ? formatUtc(input.since) : formatUtc(input.now),
    duration: input.since ? formatQuietDuration(locale, input.now.getTime() - input.since.getTime()) : "",
  };
  const clean = (s: string): string => s.replace(/ {2,}/g, " ").trim();
  const footer = ["", fmt(a.openSettings, vars), "", "--", fmt(a.footer, vars)];
  if (input.kind === "recovery") {
    return { subject: clean(fmt(a.recoverySubject, vars)), text: [clean(fmt(a.recoveryIntro, vars)), ...footer].join("\n") };
  }
  if (input.kind === "quiet") {
    return {
      subject: clean(fmt(a.quietSubject, vars)),
      text: [clean(fmt(a.quietIntro, vars)), "", `${a.whatToDo} ${a.quietAdvice}`, ...footer].join("\n"),
    };
  }
  const words = mailErrorWords(t, input.code, input);
  return {
    subject: clean(fmt(a.failureSubject, vars)),
    text: [
      clean(fmt(a.failureIntro, vars)),
      "",
      `${a.whatIsWrong} ${words.title}`,
      `${a.whatToDo} ${words.advice}`,
      ...footer,
    ].join("\n"),
  };
}
