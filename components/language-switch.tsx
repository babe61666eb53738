"use client";

import type { ReactElement } from "react";
import { LOCALES } from "@/lib/i18n";
import { useI18n } from "./i18n-provider";
import { SegmentedButton, SegmentedGroup } from "./ui/segmented";

/** Two buttons, each named in its own language, so anyone can find theirs. */
export function LanguageSwitch(): ReactElement {
  const { locale, t, setLocale } = useI18n();
  return (
    <SegmentedGroup aria-label={t.language.label}>
      {LOCALES.map((l) => (
        <SegmentedButton key={l} lang={l} pressed={locale === l} onClick={() => setLocale(l)}>
          {t.language[l]}
        </SegmentedButton>
      ))}
    </SegmentedGroup>
  );
}
