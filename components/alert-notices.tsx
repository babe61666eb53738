"use client";

import { BellRing, CircleAlert, RotateCw } from "lucide-react";
import { useCallback, useEffect, useId, useState, type ReactElement } from "react";
import { fmt, formatRelative, LOCALES } from "@/lib/i18n";
import { apiFetch, type EmailType } from "./email-api";
import { isMailErrorCode } from "@/lib/api/error-codes";
import { describeApiError } from "./error-text";
import { useI18n } from "./i18n-provider";
import { Alert, AlertTitle, LiveNotice } from "./ui/alert";
import { PendingButton } from "./ui/button";
import { Card } from "./ui/card";
import { CheckboxField } from "./ui/checkbox";
import { SelectField } from "./ui/form-field";
import { usePendingAction } from "./ui/use-pending-action";
import { useVisiblePolling } from "./use-visible-polling";

type Notice = { email_type: EmailType; kind: "failure" | "quiet"; code: string | null; since: string | null; status: string };
type Preferences = { alert_email: boolean; locale: "en" | "tr" };

const POLL_MS = 5000;

/** The mailbox's name opens some sentences ("rezervasyon posta kutusu için…"): a sentence starts upper-case. */
function capitalise(text: string, locale: string): string {
  return text.charAt(0).toLocaleUpperCase(locale) + text.slice(1);
}

/**
 * Issue 15: the alerts the admins were mailed (same source as the mail), a "Try again" for a
 * mailbox paused after failed sign-ins, and the reader's own alert email switch and language.
 */
export function AlertNotices({ canEdit }: { canEdit: boolean }): ReactElement {
  const { t, locale } = useI18n();
  const a = t.alerts;
  const uid = useId();
  const [notices, setNotices] = useState<Notice[]>([]);
  const [prefs, setPrefs] = useState<Preferences | null>(null);
  // What the last action did: its success words, or (action.error) why it failed.
  const [message, setMessage] = useState<string | null>(null);
  const action = usePendingAction();
  const [busy, setBusy] = useState<EmailType | null>(null);

  const load = useCallback(async () => {
    const res = await apiFetch<{ notices: Notice[] }>("/api/tenant/email/alerts");
    setNotices(res.notices);
  }, []);
  useVisiblePolling(load, POLL_MS);
  useEffect(() => {
    void apiFetch<Preferences>("/api/account/alert-preferences").then(setPrefs, () => {});
  }, []);

  const savePrefs = async (patch: Partial<Preferences>): Promise<void> => {
    setMessage(null);
    await action.run(async () => {
      setPrefs(await apiFetch<Preferences>("/api/account/alert-preferences", { method: "PUT", body: patch }));
      setMessage(a.saved);
    });
  };

  const tryAgain = async (emailType: EmailType): Promise<void> => {
    setBusy(emailType);
    setMessage(null);
    await action.run(async () => {
      await apiFetch(`/api/tenant/email/settings/${emailType}/resume`, { method: "POST" });
      setMessage(a.tryAgainDone);
      await load();
    });
    setBusy(null);
  };

  return (
    <Card as="section" className="flex flex-col gap-3 p-4 sm:px-6" aria-labelledby="alert-notices-title">
      <h2 id="alert-notices-title" className="flex items-center gap-2 text-lg">
        <BellRing aria-hidden="true" className="size-5 text-muted-foreground" />
        {a.noticesTitle}
      </h2>
      {notices.map((n) => {
        const mailbox = a.mailbox[n.email_type];
        const since = n.since ? formatRelative(locale, n.since) : "";
        const error = n.kind === "failure" && isMailErrorCode(n.code) ? t.mailErrors[n.code] : null;
        return (
          <Alert key={`${n.email_type}-${n.kind}`} tone={n.kind === "quiet" ? "warning" : "error"} role="status" className="flex-row items-start gap-2.5">
            <CircleAlert aria-hidden="true" className="mt-0.5 size-4 flex-none" />
            <div className="flex min-w-0 flex-1 flex-col gap-1">
              <AlertTitle>{capitalise(n.kind === "quiet" ? fmt(a.noticeQuiet, { mailbox }) : fmt(a.noticeFailure, { mailbox, since }), locale)}</AlertTitle>
              {error ? (
                <>
                  <p>{error.title.replace(/\{\w+\}/g, "…")}</p>
                  <p className="text-foreground">
                    <strong>{t.health.whatToDo}</strong> {error.advice.replace(/\{\w+\}/g, "…")}
                  </p>
                </>
              ) : n.kind === "quiet" ? (
                <p className="text-foreground">{a.quietAdvice}</p>
              ) : null}
              {canEdit && n.kind === "failure" && (n.status === "paused" || n.status === "error") ? (
                <div className="mt-1">
                  <PendingButton
                    size="sm"
                    pending={busy === n.email_type}
                    icon={<RotateCw aria-hidden="true" className="size-4" />}
                    onClick={() => void tryAgain(n.email_type)}
                  >
                    {a.tryAgain}
                  </PendingButton>
                </div>
              ) : null}
            </div>
          </Alert>
        );
      })}
      {prefs ? (
        <div className="flex flex-wrap items-end justify-between gap-x-6 gap-y-3">
          <CheckboxField
            id={`${uid}-alert-email`}
            label={a.emailToggle}
            checked={prefs.alert_email}
            onCheckedChange={(v) => void savePrefs({ alert_email: v === true })}
          />
          <SelectField
            id={`${uid}-alert-locale`}
            label={a.emailLanguage}
            className="w-full sm:w-56"
            values={LOCALES}
            labels={t.language}
            value={prefs.locale}
            onChange={(e) => void savePrefs({ locale: e.target.value === "tr" ? "tr" : "en" })}
          />
        </div>
      ) : null}
      <LiveNotice tone="muted">{action.error ? describeApiError(t, locale, action.error) : message}</LiveNotice>
    </Card>
  );
}
