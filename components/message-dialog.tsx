"use client";

import * as Dialog from "@radix-ui/react-dialog";
import { useEffect, useRef, useState } from "react";
import { formatBytes, formatDateTime, formatDuration } from "@/lib/i18n";
import { api, type MessageDetail } from "./email-api";
import { describeApiError } from "./error-text";
import { useI18n } from "./i18n-provider";
import { MessageStatusBadge } from "./message-status";
import { SenderAuthBadges } from "./sender-auth-badges";

type MessageDialogProps = {
  messageId: string | null;
  onClose: () => void;
  canRetry: boolean;
  onRetry: (id: string) => Promise<void>;
};

/** HTML mail is never rendered: its text content is shown instead (no scripts, no trackers). */
function htmlToText(html: string): string {
  const doc = new DOMParser().parseFromString(html, "text/html");
  doc.querySelectorAll("script, style, head").forEach((el) => el.remove());
  doc.querySelectorAll("br").forEach((el) => el.replaceWith("\n"));
  doc.querySelectorAll("p, div, tr, li, h1, h2, h3, h4, h5, h6").forEach((el) => el.append("\n"));
  return (doc.body.textContent ?? "").replace(/\n{3,}/g, "\n\n").trim();
}

/** '"Anex Tour" <res@anex.test>' reads better without the quotes mail headers need. */
export function displayAddress(value: string): string {
  return value.replace(/"([^"]*)"/g, "$1");
}

function recipients(to: MessageDetail["to"]): string {
  if (!to) return "";
  return displayAddress(Array.isArray(to) ? to.join(", ") : to);
}

/** One received message: headers, status, why it failed, its text and attachments. */
export function MessageDialog({ messageId, onClose, canRetry, onRetry }: MessageDialogProps) {
  const { t, locale } = useI18n();
  const [detail, setDetail] = useState<MessageDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [retrying, setRetrying] = useState(false);
  const [retryNote, setRetryNote] = useState<string | null>(null);
  const openerRef = useRef<HTMLElement | null>(null);

  useEffect(() => {
    if (!messageId) return;
    let cancelled = false;
    setDetail(null);
    setError(null);
    setRetryNote(null);
    api
      .message(messageId)
      .then((d) => {
        if (!cancelled) setDetail(d);
      })
      .catch((err: unknown) => {
        if (!cancelled) setError(describeApiError(t, locale, err));
      });
    return () => {
      cancelled = true;
    };
    // The language may change while open; the message itself does not need a reload for that.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [messageId]);

  const retry = async (): Promise<void> => {
    if (!detail) return;
    setRetrying(true);
    setRetryNote(null);
    try {
      await onRetry(detail.id);
      setDetail({ ...detail, status: "queued", error: null });
      setRetryNote(t.messages.retried);
    } catch (err) {
      setRetryNote(describeApiError(t, locale, err));
    } finally {
      setRetrying(false);
    }
  };

  const text = detail?.text?.trim() ? detail.text : detail?.html ? htmlToText(detail.html) : "";
  const subject = detail ? detail.subject || t.messages.noSubject : t.common.loading;

  return (
    <Dialog.Root open={messageId !== null} onOpenChange={(open) => (open ? undefined : onClose())}>
      <Dialog.Portal>
        <Dialog.Overlay className="dialog-overlay" />
        <Dialog.Content
          className="dialog dialog-large"
          aria-describedby={undefined}
          onOpenAutoFocus={() => {
            // Still the row's button: focus returns there when the dialog closes.
            openerRef.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
          }}
          onCloseAutoFocus={(event) => {
            const opener = openerRef.current;
            if (opener?.isConnected) {
              event.preventDefault();
              opener.focus();
            }
          }}
        >
          <div className="dialog-header">
            <Dialog.Title className="dialog-title dialog-title-wrap">{subject}</Dialog.Title>
            <Dialog.Close asChild>
              <button type="button" className="button button-ghost button-icon" aria-label={t.common.close}>
                <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
                  <path d="M4 4l8 8M12 4l-8 8" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
                </svg>
              </button>
            </Dialog.Close>
          </div>

          {error ? (
            <p className="alert alert-error" role="alert">
              {t.message.loadError} {error}
            </p>
          ) : null}
          {!detail && !error ? (
            <p className="dialog-loading muted">
              <span className="spinner" aria-hidden="true" />
            </p>
          ) : null}

          {detail ? (
            <div className="dialog-body">
              <dl className="message-meta">
                <dt>{t.message.from}</dt>
                <dd>{detail.from ? displayAddress(detail.from) : t.messages.unknownSender}</dd>
                {recipients(detail.to) ? (
                  <>
                    <dt>{t.message.to}</dt>
                    <dd>{recipients(detail.to)}</dd>
                  </>
                ) : null}
                {detail.sent_at ? (
                  <>
                    <dt>{t.message.sent}</dt>
                    <dd>{formatDateTime(locale, detail.sent_at)}</dd>
                  </>
                ) : null}
                <dt>{t.message.received}</dt>
                <dd>{formatDateTime(locale, detail.received_at)}</dd>
                <dt>{t.message.status}</dt>
                <dd>
                  <MessageStatusBadge status={detail.status} />
                  {detail.processing_ms != null && detail.status === "processed" ? (
                    <span className="muted"> · {formatDuration(locale, detail.processing_ms)}</span>
                  ) : null}
                </dd>
              </dl>

              {detail.status === "failed" && detail.error ? (
                <div className="alert alert-error">
                  <strong className="alert-title">{t.message.error}</strong>
                  <p>{detail.error}</p>
                </div>
              ) : null}

              {detail.status === "too_large" && detail.error ? (
                <div className="alert alert-warning" data-testid="message-too-large">
                  <strong className="alert-title">{t.message.tooLarge}</strong>
                  <p>{detail.error}</p>
                </div>
              ) : null}

              {detail.warnings?.length ? (
                <div className="alert alert-info" data-testid="message-warnings">
                  <strong className="alert-title">{t.message.warnings}</strong>
                  <p>{t.message.warningsHint}</p>
                  <ul>
                    {detail.warnings.map((w, i) => (
                      <li key={i}>
                        <code>{w}</code>
                      </li>
                    ))}
                  </ul>
                </div>
              ) : null}

              <SenderAuthBadges auth={detail.sender_auth} />

              <div aria-live="polite">{retryNote ? <p className="alert alert-info">{retryNote}</p> : null}</div>

              <h3 className="section-title">{t.message.text}</h3>
              {!detail.text?.trim() && detail.html ? <p className="field-hint">{t.message.htmlOnly}</p> : null}
              {text ? (
                <pre className="message-text" tabIndex={0}>
                  {text}
                </pre>
              ) : (
                <p className="muted">{t.message.noText}</p>
              )}

              <h3 className="section-title">{t.message.attachments}</h3>
              {detail.attachments.length ? (
                <ul className="attachments">
                  {detail.attachments.map((a, i) => (
                    <li key={`${a.filename ?? ""}-${i}`} className="attachment">
                      <svg className="attachment-icon" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
                        <path
                          d="M10.5 4.5 5.8 9.2a1.3 1.3 0 0 0 1.9 1.9l5-5a2.6 2.6 0 0 0-3.7-3.7l-5 5a3.9 3.9 0 0 0 5.5 5.5l4-4"
                          fill="none"
                          stroke="currentColor"
                          strokeWidth="1.4"
                          strokeLinecap="round"
                        />
                      </svg>
                      <span className="attachment-name">{a.filename || t.message.unnamed}</span>
                      <span className="attachment-meta">
                        {a.content_type} · {formatBytes(locale, a.size)}
                      </span>
                    </li>
                  ))}
                </ul>
              ) : (
                <p className="muted">{t.message.noAttachments}</p>
              )}
            </div>
          ) : null}

          <div className="dialog-actions">
            {detail ? (
              <a className="button" href={api.rawUrl(detail.id)} download>
                {t.message.downloadRaw}
              </a>
            ) : null}
            {detail && detail.status === "failed" && canRetry ? (
              <button type="button" className="button button-primary" onClick={() => void retry()} disabled={retrying}>
                {retrying ? t.messages.retrying : t.messages.retry}
              </button>
            ) : null}
            <Dialog.Close asChild>
              <button type="button" className="button">
                {t.common.close}
              </button>
            </Dialog.Close>
          </div>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
