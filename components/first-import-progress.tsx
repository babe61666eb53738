"use client";

import type { ReactElement } from "react";
import { formatNumber, plural } from "@/lib/i18n";
import type { MailboxHealth } from "./email-api";
import { useI18n } from "./i18n-provider";
import { ProgressNotice } from "./ui/progress";

/** "First import: 320 of 1,500 messages imported" while a mailbox's first import runs (issue 13). */
export function FirstImportProgress({ progress }: { progress: MailboxHealth["first_import"] }): ReactElement | null {
  const { t, locale } = useI18n();
  if (!progress || progress.total <= 0) return null;
  const text = plural(locale, t.health.firstImport, progress.total, { imported: formatNumber(locale, progress.imported) });
  return (
    <ProgressNotice label={text} max={progress.total} value={progress.imported}>
      <p className="text-caption font-normal text-info-strong">{t.health.firstImportHint}</p>
    </ProgressNotice>
  );
}
