"use client";

import { formatNumber, plural } from "@/lib/i18n";
import type { MailboxHealth } from "./email-api";
import { useI18n } from "./i18n-provider";

/** "First import: 320 of 1,500 messages imported" while a mailbox's first import runs (issue 13). */
export function FirstImportProgress({ progress }: { progress: MailboxHealth["first_import"] }) {
  const { t, locale } = useI18n();
  if (!progress || progress.total <= 0) return null;
  const text = plural(locale, t.health.firstImport, progress.total, { imported: formatNumber(locale, progress.imported) });
  return (
    <div className="backlog first-import" role="status" aria-live="polite">
      <span className="backlog-text">{text}</span>
      <progress className="backlog-bar" max={progress.total} value={progress.imported} aria-label={text} />
      <p className="health-hint">{t.health.firstImportHint}</p>
    </div>
  );
}
