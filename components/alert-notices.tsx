"use client";

import { useCallback, useEffect, useState } from "react";
import { fmt, formatRelative } from "@/lib/i18n";
import { apiFetch, type EmailType } from "./email-api";
import { isMailErrorCode } from "@/lib/api/error-codes";
import { describeApiError } from "./error-text";
import { useI18n } from "./i18n-provider";
import { useVisiblePolling } from "./use-visible-polling";

type Notice = { email_type: EmailType; kind: "failure" | "quiet"; code: string | null; since: string | null; status: string };
type Preferences = { alert_email: boolean; locale: "en" | "tr" };

const POLL_MS = 5000;

/**
 * Issue 15: the alerts the admins were mailed (same source as the mail), a "Try again" for a
 * mailbox paused after failed sign-ins, and the reader's own alert email switch and language.
 */
export function AlertNotices({ canEdit }: { canEdit: boolean }) {
  const { t, locale } = useI18n();
  const a = t.alerts;
  const [notices, setNotices] = useState<Notice[]>([]);
  const [prefs, setPrefs] = useState<Preferences | null>(null);
  const [message, setMessage] = useState<string | null>(null);
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
    try {
      setPrefs(await apiFetch<Preferences>("/api/account/alert-preferences", { method: "PUT", body: patch }));
      setMessage(a.saved);
    } catch (err) {
      setMessage(describeApiError(t, locale, err));
    }
  };

  const tryAgain = async (emailType: EmailType): Promise<void> => {
    setBusy(emailType);
    try {
      await apiFetch(`/api/tenant/email/settings/${emailType}/resume`, { method: "POST" });
      setMessage(a.tryAgainDone);
      await load();
    } catch (err) {
      setMessage(describeApiError(t, locale, err));
    } finally {
      setBusy(null);
    }
  };

  return (
    <section className="alert-notices" aria-labelledby="alert-notices-title">
      <h2 id="alert-notices-title">{a.noticesTitle}</h2>
      {notices.map((n) => {
        const mailbox = a.mailbox[n.email_type];
        const since = n.since ? formatRelative(locale, n.since) : "";
        const error = n.kind === "failure" && isMailErrorCode(n.code) ? t.mailErrors[n.code] : null;
        return (
          <div key={`${n.email_type}-${n.kind}`} className={`alert ${n.kind === "quiet" ? "alert-warning" : "alert-error"}`} role="status">
            <p>{n.kind === "quiet" ? fmt(a.noticeQuiet, { mailbox }) : fmt(a.noticeFailure, { mailbox, since })}</p>
            {error ? (
              <p>
                {error.title.replace(/\{\w+\}/g, "…")} {t.health.whatToDo} {error.advice.replace(/\{\w+\}/g, "…")}
              </p>
            ) : n.kind === "quiet" ? (
              <p>{a.quietAdvice}</p>
            ) : null}
            {canEdit && n.kind === "failure" && (n.status === "paused" || n.status === "error") ? (
              <button type="button" className="button button-small" disabled={busy === n.email_type} onClick={() => void tryAgain(n.email_type)}>
                {a.tryAgain}
              </button>
            ) : null}
          </div>
        );
      })}
      {prefs ? (
        <div className="alert-preferences">
          <label>
            <input type="checkbox" checked={prefs.alert_email} onChange={(e) => void savePrefs({ alert_email: e.target.checked })} /> {a.emailToggle}
          </label>
          <label>
            {a.emailLanguage}{" "}
            <select value={prefs.locale} onChange={(e) => void savePrefs({ locale: e.target.value === "tr" ? "tr" : "en" })}>
              <option value="en">{t.language.en}</option>
              <option value="tr">{t.language.tr}</option>
            </select>
          </label>
        </div>
      ) : null}
      {message ? <p className="muted" role="status">{message}</p> : null}
    </section>
  );
}
