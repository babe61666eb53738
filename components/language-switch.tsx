"use client";

import { LOCALES } from "@/lib/i18n";
import { useI18n } from "./i18n-provider";

/** Two buttons, each named in its own language, so anyone can find theirs. */
export function LanguageSwitch() {
  const { locale, t, setLocale } = useI18n();
  return (
    <div className="segmented" role="group" aria-label={t.language.label}>
      {LOCALES.map((l) => (
        <button
          key={l}
          type="button"
          lang={l}
          className="segmented-option"
          aria-pressed={locale === l}
          onClick={() => setLocale(l)}
        >
          {t.language[l]}
        </button>
      ))}
    </div>
  );
}
