"use client";

import type { ReactElement } from "react";
import { formatNumber, plural } from "@/lib/i18n";
import type { MailboxHealth } from "./email-api";
import { useI18n } from "./i18n-provider";

/** "First import: 320 of 1,500 messages imported" while a mailbox's first import runs (issue 13). */
export function FirstImportProgress({ progress }: { progress: MailboxHealth["first_import"] }): ReactElement | null {
  const { t, locale } = useI18n();
  if (!progress || progress.total <= 0) return null;
  const text = plural(locale, t.health.firstImport, progress.total, { imported: formatNumber(locale, progress.imported) });
  return (
    <div role="status" aria-live="polite" className="flex flex-col gap-1.5 rounded-md border border-info-border bg-info-soft p-3 text-sm font-medium text-info">
      <span>{text}</span>
      <progress
        className="h-2 w-full appearance-none overflow-hidden rounded-sm border-0 bg-info-track [&::-moz-progress-bar]:bg-info [&::-webkit-progress-bar]:bg-info-track [&::-webkit-progress-value]:bg-info [&::-webkit-progress-value]:transition-[width] [&::-webkit-progress-value]:duration-400 motion-reduce:[&::-webkit-progress-value]:transition-none"
        max={progress.total}
        value={progress.imported}
        aria-label={text}
      />
      <p className="text-caption font-normal text-info-strong">{t.health.firstImportHint}</p>
    </div>
  );
}
