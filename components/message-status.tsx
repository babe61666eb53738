"use client";

import type { ReactElement } from "react";
import type { MessageStatus } from "./email-api";
import { useI18n } from "./i18n-provider";
import { Badge, type BadgeTone } from "./ui/badge";

const TONE: Record<MessageStatus, BadgeTone> = {
  queued: "neutral",
  processing: "info",
  processed: "success",
  failed: "danger",
  too_large: "warning",
};

/** A message's processing state as a small pill: a mark and the word, not colour alone. */
export function MessageStatusBadge({ status }: { status: MessageStatus }): ReactElement {
  const { t } = useI18n();
  return (
    <Badge size="sm" tone={TONE[status]} data-status={status}>
      <span className="size-1.5 flex-none rounded-full bg-current" aria-hidden="true" />
      {t.messages.statuses[status]}
    </Badge>
  );
}
