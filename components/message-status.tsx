"use client";

import type { MessageStatus } from "./email-api";
import { useI18n } from "./i18n-provider";

const TONE: Record<MessageStatus, string> = {
  queued: "neutral",
  processing: "info",
  processed: "success",
  failed: "danger",
  too_large: "warning",
};

/** A message's processing state as a small pill: a mark and the word, not colour alone. */
export function MessageStatusBadge({ status }: { status: MessageStatus }) {
  const { t } = useI18n();
  return (
    <span className={`badge badge-small badge-${TONE[status]}`} data-status={status}>
      <span className="badge-dot" aria-hidden="true" />
      {t.messages.statuses[status]}
    </span>
  );
}
