"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { fmt, formatDateTime, formatRelative, plural } from "@/lib/i18n";
import { api, type EmailType, type MessageItem, type MessageStatus } from "./email-api";
import { describeApiError } from "./error-text";
import { useI18n } from "./i18n-provider";
import { displayAddress, MessageDialog } from "./message-dialog";
import { MessageStatusBadge } from "./message-status";
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
};

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
export function MessageList({ emailType, canEdit, now, hideWhenEmpty, headingId, heading }: MessageListProps) {
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
    <section className="messages" aria-labelledby={headingId}>
      <div className="section-header">
        <h3 id={headingId} className="section-title">
          {heading}
        </h3>
        <div className="segmented segmented-small" role="group" aria-label={t.messages.filterLabel}>
          {(["all", "failed"] as const).map((f) => (
            <button
              key={f}
              type="button"
              className="segmented-option"
              aria-pressed={filter === f}
              onClick={() => setFilter(f)}
            >
              {f === "all" ? t.messages.filterAll : t.messages.filterFailed}
            </button>
          ))}
        </div>
      </div>

      <p className="visually-hidden" aria-live="polite">
        {announcement}
      </p>

      {error && items === null ? (
        <p className="alert alert-error" role="alert">
          {t.messages.loadError} {error}
        </p>
      ) : null}

      {items === null && !error ? <p className="muted">{t.common.loading}</p> : null}

      {items && items.length === 0 ? (
        <p className="empty">{filter === "failed" ? t.messages.emptyFiltered : t.messages.empty}</p>
      ) : null}

      {items && items.length > 0 ? (
        <table className="message-table">
          <thead>
            <tr>
              <th scope="col">{t.messages.from}</th>
              <th scope="col">{t.messages.subject}</th>
              <th scope="col">{t.messages.received}</th>
              <th scope="col">{t.messages.status}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((m) => {
              const subject = m.subject || t.messages.noSubject;
              return (
                <tr key={m.id} data-status={m.status}>
                  <td className="cell-from" title={m.from ? displayAddress(m.from) : undefined}>
                    {senderName(m.from) ?? t.messages.unknownSender}
                  </td>
                  <td className="cell-subject">
                    <button
                      type="button"
                      className="link-button"
                      onClick={() => setOpenId(m.id)}
                      aria-haspopup="dialog"
                    >
                      {subject}
                    </button>
                    {m.attachments.length > 0 ? (
                      <span className="attachment-count" title={plural(locale, t.messages.attachmentCount, m.attachments.length)}>
                        <svg viewBox="0 0 16 16" aria-hidden="true" focusable="false">
                          <path
                            d="M10.5 4.5 5.8 9.2a1.3 1.3 0 0 0 1.9 1.9l5-5a2.6 2.6 0 0 0-3.7-3.7l-5 5a3.9 3.9 0 0 0 5.5 5.5l4-4"
                            fill="none"
                            stroke="currentColor"
                            strokeWidth="1.4"
                            strokeLinecap="round"
                          />
                        </svg>
                        <span className="visually-hidden">{plural(locale, t.messages.attachmentCount, m.attachments.length)}</span>
                      </span>
                    ) : null}
                  </td>
                  <td className="cell-received">
                    <time dateTime={m.received_at} title={formatDateTime(locale, m.received_at)}>
                      {formatRelative(locale, m.received_at, now)}
                    </time>
                  </td>
                  <td className="cell-status">
                    <MessageStatusBadge status={m.status} />
                    {m.status === "too_large" ? (
                      <span className="field-hint" title={m.error ?? undefined}>
                        {" "}
                        {t.messages.tooLargeHint}
                      </span>
                    ) : null}
                    {m.status === "failed" && canEdit ? (
                      <button
                        type="button"
                        className="button button-xs"
                        onClick={() => void retryFromList(m.id)}
                        disabled={retrying.has(m.id)}
                        aria-label={fmt(t.messages.retryLabel, { subject })}
                      >
                        {retrying.has(m.id) ? t.messages.retrying : t.messages.retry}
                      </button>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}

      {nextCursor && items && items.length > 0 ? (
        <div className="list-footer">
          <button type="button" className="button button-ghost" onClick={() => void loadMore()} disabled={loadingMore}>
            {loadingMore ? t.common.loading : t.messages.loadMore}
          </button>
        </div>
      ) : null}

      <MessageDialog messageId={openId} onClose={() => setOpenId(null)} canRetry={canEdit} onRetry={retry} />
    </section>
  );
}
