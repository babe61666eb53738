"use client";

import { Download, Paperclip, X } from "lucide-react";
import { useEffect, useRef, useState, type ReactElement } from "react";
import { formatBytes, formatDateTime, formatDuration } from "@/lib/i18n";
import { api, type MessageDetail } from "./email-api";
import { describeApiError } from "./error-text";
import { useI18n } from "./i18n-provider";
import { MessageStatusBadge } from "./message-status";
import { SenderAuthBadges } from "./sender-auth-badges";
import { Alert, AlertTitle, LiveNotice } from "./ui/alert";
import { Button, PendingButton } from "./ui/button";
import { SectionTitle } from "./ui/card";
import { Dialog, DialogClose, DialogContent, DialogFooter, DialogTitle } from "./ui/dialog";
import { Spinner } from "./ui/spinner";
import { usePendingAction } from "./ui/use-pending-action";

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
export function MessageDialog({ messageId, onClose, canRetry, onRetry }: MessageDialogProps): ReactElement {
  const { t, locale } = useI18n();
  const [detail, setDetail] = useState<MessageDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const retryAction = usePendingAction();
  const [retried, setRetried] = useState(false);
  const openerRef = useRef<HTMLElement | null>(null);

  useEffect(() => {
    if (!messageId) return;
    let cancelled = false;
    setDetail(null);
    setError(null);
    setRetried(false);
    retryAction.reset();
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
    setRetried(false);
    await retryAction.run(async () => {
      await onRetry(detail.id);
      setDetail({ ...detail, status: "queued", error: null });
      setRetried(true);
    });
  };
  const retryNote = retryAction.error ? describeApiError(t, locale, retryAction.error) : retried ? t.messages.retried : null;

  const text = detail?.text?.trim() ? detail.text : detail?.html ? htmlToText(detail.html) : "";
  const subject = detail ? detail.subject || t.messages.noSubject : t.common.loading;

  return (
    <Dialog open={messageId !== null} onOpenChange={(open) => (open ? undefined : onClose())}>
      <DialogContent
        size="lg"
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
        <div className="flex items-start justify-between gap-3">
          <DialogTitle className="[overflow-wrap:anywhere]">{subject}</DialogTitle>
          <DialogClose asChild>
            <Button variant="ghost" size="icon" aria-label={t.common.close}>
              <X aria-hidden="true" className="size-4" strokeWidth={2.5} />
            </Button>
          </DialogClose>
        </div>

        {error ? (
          <Alert as="p" tone="error" role="alert">
            {t.message.loadError} {error}
          </Alert>
        ) : null}
        {!detail && !error ? (
          <p className="flex justify-center py-6 text-muted-foreground">
            <Spinner />
          </p>
        ) : null}

        {detail ? (
          <div className="flex flex-col gap-3">
            <dl data-testid="message-meta" className="m-0 grid grid-cols-1 text-sm sm:grid-cols-[max-content_minmax(0,1fr)] sm:gap-x-4 sm:gap-y-1.5 max-sm:[&_dd+dt]:mt-2">
              <dt className="text-muted-foreground">{t.message.from}</dt>
              <dd className="min-w-0">{detail.from ? displayAddress(detail.from) : t.messages.unknownSender}</dd>
              {recipients(detail.to) ? (
                <>
                  <dt className="text-muted-foreground">{t.message.to}</dt>
                  <dd className="min-w-0">{recipients(detail.to)}</dd>
                </>
              ) : null}
              {detail.sent_at ? (
                <>
                  <dt className="text-muted-foreground">{t.message.sent}</dt>
                  <dd className="min-w-0">{formatDateTime(locale, detail.sent_at)}</dd>
                </>
              ) : null}
              <dt className="text-muted-foreground">{t.message.received}</dt>
              <dd className="min-w-0">{formatDateTime(locale, detail.received_at)}</dd>
              <dt className="text-muted-foreground">{t.message.status}</dt>
              <dd className="min-w-0">
                <MessageStatusBadge status={detail.status} />
                {detail.processing_ms != null && detail.status === "processed" ? (
                  <span className="text-muted-foreground"> · {formatDuration(locale, detail.processing_ms)}</span>
                ) : null}
              </dd>
            </dl>

            {detail.status === "failed" && detail.error ? (
              <Alert tone="error">
                <AlertTitle>{t.message.error}</AlertTitle>
                <p>{detail.error}</p>
              </Alert>
            ) : null}

            {detail.status === "too_large" && detail.error ? (
              <Alert tone="warning" data-testid="message-too-large">
                <AlertTitle>{t.message.tooLarge}</AlertTitle>
                <p>{detail.error}</p>
              </Alert>
            ) : null}

            {detail.warnings?.length ? (
              <Alert tone="info" data-testid="message-warnings">
                <AlertTitle>{t.message.warnings}</AlertTitle>
                <p>{t.message.warningsHint}</p>
                <ul className="list-disc pl-5">
                  {detail.warnings.map((w, i) => (
                    <li key={i}>
                      <code className="font-mono">{w}</code>
                    </li>
                  ))}
                </ul>
              </Alert>
            ) : null}

            <SenderAuthBadges auth={detail.sender_auth} />

            <LiveNotice tone="info">{retryNote}</LiveNotice>

            <SectionTitle className="mt-2">{t.message.text}</SectionTitle>
            {!detail.text?.trim() && detail.html ? <p className="text-caption text-muted-foreground">{t.message.htmlOnly}</p> : null}
            {text ? (
              <pre className="m-0 max-h-80 overflow-y-auto rounded-md border border-border bg-muted p-3 font-sans text-sm whitespace-pre-wrap [overflow-wrap:anywhere]" tabIndex={0}>
                {text}
              </pre>
            ) : (
              <p className="text-muted-foreground">{t.message.noText}</p>
            )}

            <SectionTitle className="mt-2">{t.message.attachments}</SectionTitle>
            {detail.attachments.length ? (
              <ul className="flex flex-col gap-2">
                {detail.attachments.map((a, i) => (
                  <li key={`${a.filename ?? ""}-${i}`} className="flex flex-wrap items-center gap-x-2 gap-y-1 rounded-md border border-border px-3 py-2 text-sm">
                    <Paperclip aria-hidden="true" focusable="false" className="size-4 flex-none text-muted-foreground" />
                    <span className="min-w-0 font-medium">{a.filename || t.message.unnamed}</span>
                    <span className="ml-auto text-caption text-muted-foreground">
                      {a.content_type} · {formatBytes(locale, a.size)}
                    </span>
                  </li>
                ))}
              </ul>
            ) : (
              <p className="text-muted-foreground">{t.message.noAttachments}</p>
            )}
          </div>
        ) : null}

        <DialogFooter>
          {detail ? (
            <Button asChild>
              <a href={api.rawUrl(detail.id)} download>
                <Download aria-hidden="true" className="size-4" />
                {t.message.downloadRaw}
              </a>
            </Button>
          ) : null}
          {detail && detail.status === "failed" && canRetry ? (
            <PendingButton variant="default" onClick={() => void retry()} pending={retryAction.pending} pendingLabel={t.messages.retrying}>
              {t.messages.retry}
            </PendingButton>
          ) : null}
          <DialogClose asChild>
            <Button>{t.common.close}</Button>
          </DialogClose>
        </DialogFooter>
      </DialogContent>
    </Dialog>
  );
}
