import { en, type Dictionary, type PluralForms } from "./en";
import type { Locale } from "./locales";
import { tr } from "./tr";

export type { Dictionary, PluralForms } from "./en";
export * from "./locales";

const DICTIONARIES: Record<Locale, Dictionary> = { en, tr };

/** BCP 47 tags for Intl: the UI's "tr" is Turkey's Turkish. */
const INTL_TAGS: Record<Locale, string> = { en: "en-GB", tr: "tr-TR" };

export function getDictionary(locale: Locale): Dictionary {
  return DICTIONARIES[locale];
}

export function intlTag(locale: Locale): string {
  return INTL_TAGS[locale];
}

/** Fills `{name}` placeholders; unknown ones are left visible so a missing value is noticed. */
export function fmt(template: string, vars: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (match, name: string) => {
    const value = vars[name];
    return value === undefined ? match : String(value);
  });
}

/** Picks the plural form for `count` and fills it; `{count}` is formatted for the language. */
export function plural(locale: Locale, forms: PluralForms, count: number, vars: Record<string, string | number> = {}): string {
  const rule = new Intl.PluralRules(intlTag(locale)).select(count);
  return fmt(rule === "one" ? forms.one : forms.other, { count: formatNumber(locale, count), ...vars });
}

export function formatNumber(locale: Locale, value: number): string {
  return new Intl.NumberFormat(intlTag(locale)).format(value);
}

/** "120 ms", "1,4 s", "2 min": the unit that keeps the number short. */
export function formatDuration(locale: Locale, ms: number): string {
  const tag = intlTag(locale);
  if (ms < 1000) return new Intl.NumberFormat(tag, { style: "unit", unit: "millisecond", maximumFractionDigits: 0 }).format(ms);
  if (ms < 60_000)
    return new Intl.NumberFormat(tag, { style: "unit", unit: "second", maximumFractionDigits: 1 }).format(ms / 1000);
  return new Intl.NumberFormat(tag, { style: "unit", unit: "minute", maximumFractionDigits: 1 }).format(ms / 60_000);
}

export function formatBytes(locale: Locale, bytes: number): string {
  const tag = intlTag(locale);
  const units = ["byte", "kilobyte", "megabyte", "gigabyte"] as const;
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return new Intl.NumberFormat(tag, {
    style: "unit",
    unit: units[i],
    unitDisplay: "short",
    maximumFractionDigits: i === 0 ? 0 : 1,
  }).format(value);
}

/** "3 minutes ago" / "3 dakika önce" ("3 min. ago" when short); under 10 s is "just now". */
export function formatRelative(
  locale: Locale,
  date: Date | string,
  now: number = Date.now(),
  style: "long" | "short" = "long",
): string {
  const then = typeof date === "string" ? new Date(date).getTime() : date.getTime();
  if (!Number.isFinite(then)) return "";
  const diffSeconds = Math.round((then - now) / 1000);
  const abs = Math.abs(diffSeconds);
  if (abs < 10) return getDictionary(locale).time.justNow;
  const rtf = new Intl.RelativeTimeFormat(intlTag(locale), { numeric: "auto", style });
  if (abs < 60) return rtf.format(diffSeconds, "second");
  if (abs < 3600) return rtf.format(Math.round(diffSeconds / 60), "minute");
  if (abs < 86_400) return rtf.format(Math.round(diffSeconds / 3600), "hour");
  if (abs < 30 * 86_400) return rtf.format(Math.round(diffSeconds / 86_400), "day");
  return formatDateTime(locale, date);
}

export function formatDateTime(locale: Locale, date: Date | string): string {
  const d = typeof date === "string" ? new Date(date) : date;
  if (!Number.isFinite(d.getTime())) return "";
  return new Intl.DateTimeFormat(intlTag(locale), { dateStyle: "medium", timeStyle: "short" }).format(d);
}

/** "14:00" in the viewer's time zone, for the hourly chart. */
export function formatHour(locale: Locale, date: Date | string): string {
  const d = typeof date === "string" ? new Date(date) : date;
  return new Intl.DateTimeFormat(intlTag(locale), { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(d);
}
