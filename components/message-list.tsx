"use client";

import { Paperclip } from "lucide-react";
import { useCallback, useEffect, useRef, useState, type ReactElement } from "react";
import { fmt, formatDateTime, formatRelative, plural } from "@/lib/i18n";
import { api, type EmailType, type MessageItem, type MessageStatus } from "./email-api";
import { describeApiError } from "./error-text";
import { useI18n } from "./i18n-provider";
import { displayAddress, MessageDialog } from "./message-dialog";
import { MessageStatusBadge } from "./message-status";
import { Alert, LiveRegion } from "./ui/alert";
import { PendingButton } from "./ui/button";
import { SectionTitle } from "./ui/card";
import { cn } from "./ui/cn";
import { SegmentedButton, SegmentedGroup } from "./ui/segmented";
import { useVisiblePolling } from "./use-visible-polling";

const PAGE_SIZE = 10;
const MAX_REFRESH = 100;
const POLL_MS = 3000;

type MessageListProps = {
  emailType: EmailType;
  canEdit: boolean;
  now: number;
  /** Hide the whole section while the mailbox is not configured and has no mail. */
  hideWhenEmpty: boolean;
  headingId: string;
  heading: string;
  className?: string;
};

const TH = "border-b border-border px-2 pb-2 text-left text-xs font-semibold text-muted-foreground";
const TD =
  "overflow-hidden border-b border-border px-2 py-2.5 align-middle text-ellipsis whitespace-nowrap group-last:border-b-0 max-sm:block max-sm:border-0 max-sm:p-0";

/** "Name <a@b>" -> "Name"; a bare address stays as it is. */
function senderName(from: string | null): string | null {
  if (!from) return null;
  const m = /^\s*"?([^"<]+?)"?\s*<[^>]+>\s*$/.exec(from);
  return m?.[1] ? m[1] : from;
}

/**
 * The newest messages of one mailbox, refreshed every few seconds while the page is visible.
 * Failed messages can be retried; any message opens in a dialog.
 */
export function MessageList({ emailType, canEdit, now, hideWhenEmpty, headingId, heading, className }: MessageListProps): ReactElement | null {
  const { t, locale } = useI18n();
  const [items, setItems] = useState<MessageItem[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [filter, setFilter] = useState<"all" | "failed">("all");
  const [error, setError] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [openId, setOpenId] = useState<string | null>(null);
  const [retrying, setRetrying] = useState<ReadonlySet<string>>(new Set());
  const [announcement, setAnnouncement] = useState("");
  const loaded = useRef(PAGE_SIZE);
  const generation = useRef(0);

  const status: MessageStatus | undefined = filter === "failed" ? "failed" : undefined;

  /** Reloads what is shown (the first page, or as many as "show older" has loaded). */
  const refresh = useCallback(async () => {
    const gen = generation.current;
    try {
      const page = await api.messages({ email_type: emailType, status, limit: Math.min(MAX_REFRESH, loaded.current) });
      if (gen !== generation.current) return;
      setItems(page.items);
      setNextCursor(page.next_cursor);
      setError(null);
    } catch (err) {
      if (gen !== generation.current) return;
      setError(describeApiError(t, locale, err));
    }
  }, [emailType, status, t, locale]);

  useEffect(() => {
    generation.current++;
    loaded.current = PAGE_SIZE;
    setItems(null);
    void refresh();
    // only when the filter (or mailbox) changes; the language is handled by re-render
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [emailType, status]);

  useVisiblePolling(refresh, POLL_MS);

  const loadMore = async (): Promise<void> => {
    if (!nextCursor) return;
    setLoadingMore(true);
    const gen = generation.current;
    try {
      const page = await api.messages({ email_type: emailType, status, limit: PAGE_SIZE, cursor: nextCursor });
      if (gen !== generation.current) return;
      setItems((prev) => {
        const seen = new Set((prev ?? []).map((m) => m.id));
        const merged = [...(prev ?? []), ...page.items.filter((m) => !seen.has(m.id))];
        loaded.current = merged.length;
        return merged;
      });
      setNextCursor(page.next_cursor);
    } catch (err) {
      setError(describeApiError(t, locale, err));
    } finally {
      setLoadingMore(false);
    }
  };

  const retry = async (id: string): Promise<void> => {
    await api.retry(id);
    setItems((prev) => prev?.map((m) => (m.id === id ? { ...m, status: "queued", error: null } : m)) ?? prev);
    setAnnouncement(t.messages.retried);
    void refresh();
  };

  const retryFromList = async (id: string): Promise<void> => {
    setRetrying((s) => new Set(s).add(id));
    try {
      await retry(id);
    } catch (err) {
      setAnnouncement(describeApiError(t, locale, err));
    } finally {
      setRetrying((s) => {
        const next = new Set(s);
        next.delete(id);
        return next;
      });
    }
  };

  if (hideWhenEmpty && filter === "all" && (items === null || items.length === 0)) return null;

  return (
    <section className={className} aria-labelledby={headingId}>
      <div className="mb-3 flex flex-wrap items-center justify-between gap-x-3 gap-y-2">
        <SectionTitle id={headingId}>{heading}</SectionTitle>
        <SegmentedGroup aria-label={t.messages.filterLabel}>
          {(["all", "failed"] as const).map((f) => (
            <SegmentedButton key={f} size="sm" pressed={filter === f} onClick={() => setFilter(f)}>
              {f === "all" ? t.messages.filterAll : t.messages.filterFailed}
            </SegmentedButton>
          ))}
        </SegmentedGroup>
      </div>

      <LiveRegion as="p" className="sr-only">
        {announcement}
      </LiveRegion>

      {error && items === null ? (
        <Alert as="p" tone="error" role="alert">
          {t.messages.loadError} {error}
        </Alert>
      ) : null}

      {items === null && !error ? <p className="text-muted-foreground">{t.common.loading}</p> : null}

      {items && items.length === 0 ? (
        <p className="rounded-md border border-dashed border-border px-4 py-6 text-center text-sm text-muted-foreground">
          {filter === "failed" ? t.messages.emptyFiltered : t.messages.empty}
        </p>
      ) : null}

      {items && items.length > 0 ? (
        <table className="w-full table-fixed border-collapse text-sm max-sm:block">
          <thead className="max-sm:sr-only">
            <tr>
              <th scope="col" className={cn(TH, "w-1/5 pl-0")}>
                {t.messages.from}
              </th>
              <th scope="col" className={TH}>
                {t.messages.subject}
              </th>
              <th scope="col" className={cn(TH, "w-[15%]")}>
                {t.messages.received}
              </th>
              {/* Room for a status pill and the Retry button in either language. */}
              <th scope="col" className={cn(TH, "w-[220px] pr-0")}>
                {t.messages.status}
              </th>
            </tr>
          </thead>
          <tbody className="max-sm:block">
            {items.map((m) => (
              <MessageRow
                key={m.id}
                message={m}
                now={now}
                canEdit={canEdit}
                retrying={retrying.has(m.id)}
                onOpen={setOpenId}
                onRetry={(id) => void retryFromList(id)}
              />
            ))}
          </tbody>
        </table>
      ) : null}

      {nextCursor && items && items.length > 0 ? (
        <div className="mt-3 flex justify-center">
          <PendingButton variant="ghost" onClick={() => void loadMore()} pending={loadingMore} pendingLabel={t.common.loading}>
            {t.messages.loadMore}
          </PendingButton>
        </div>
      ) : null}

      <MessageDialog messageId={openId} onClose={() => setOpenId(null)} canRetry={canEdit} onRetry={retry} />
    </section>
  );
}

/** One message: sender, subject (opens the dialog), attachments, received time, status and Retry. */
function MessageRow({
  message: m,
  now,
  canEdit,
  retrying,
  onOpen,
  onRetry,
}: {
  message: MessageItem;
  now: number;
  canEdit: boolean;
  retrying: boolean;
  onOpen: (id: string) => void;
  onRetry: (id: string) => void;
}): ReactElement {
  const { t, locale } = useI18n();
  const subject = m.subject || t.messages.noSubject;
  return (
    <tr
      data-status={m.status}
      className="group hover:bg-muted max-sm:grid max-sm:grid-cols-[minmax(0,1fr)_auto] max-sm:gap-x-2 max-sm:gap-y-1 max-sm:border-b max-sm:border-border max-sm:py-3 max-sm:last:border-b-0 max-sm:hover:bg-transparent"
    >
      <td className={cn(TD, "pl-0 max-sm:col-start-1 max-sm:row-start-1 max-sm:font-semibold")} title={m.from ? displayAddress(m.from) : undefined}>
        {senderName(m.from) ?? t.messages.unknownSender}
      </td>
      <td className={cn(TD, "max-sm:col-span-2 max-sm:row-start-2 max-sm:flex max-sm:items-start max-sm:gap-1.5 max-sm:whitespace-normal")}>
        <button
          type="button"
          className="inline-block max-w-[calc(100%-24px)] cursor-pointer truncate text-left align-middle font-medium text-primary hover:underline max-sm:max-w-none max-sm:whitespace-normal"
          onClick={() => onOpen(m.id)}
          aria-haspopup="dialog"
        >
          {subject}
        </button>
        {m.attachments.length > 0 ? (
          <span
            data-testid="attachment-count"
            className="ml-1.5 inline-flex align-middle text-muted-foreground max-sm:mt-[3px] max-sm:ml-0"
            title={plural(locale, t.messages.attachmentCount, m.attachments.length)}
          >
            <Paperclip aria-hidden="true" focusable="false" className="size-3.5" />
            <span className="sr-only">{plural(locale, t.messages.attachmentCount, m.attachments.length)}</span>
          </span>
        ) : null}
      </td>
      <td className={cn(TD, "text-muted-foreground max-sm:col-start-2 max-sm:row-start-1 max-sm:text-caption")}>
        <time dateTime={m.received_at} title={formatDateTime(locale, m.received_at)}>
          {formatRelative(locale, m.received_at, now)}
        </time>
      </td>
      <td className={cn(TD, "overflow-visible pr-0 max-sm:col-span-2 max-sm:row-start-3 max-sm:flex max-sm:items-center max-sm:justify-between")}>
        <MessageStatusBadge status={m.status} />
        {m.status === "too_large" ? (
          <span className="text-caption text-muted-foreground" title={m.error ?? undefined}>
            {" "}
            {t.messages.tooLargeHint}
          </span>
        ) : null}
        {m.status === "failed" && canEdit ? (
          <PendingButton
            size="xs"
            className="ml-2"
            onClick={() => onRetry(m.id)}
            pending={retrying}
            pendingLabel={t.messages.retrying}
            // The row's column is sized for the words; a spinner would push the button out of it.
            spinner={false}
            aria-label={fmt(t.messages.retryLabel, { subject })}
          >
            {t.messages.retry}
          </PendingButton>
        ) : null}
      </td>
    </tr>
  );
}
