"use client";

import { useState, type ReactElement } from "react";
import { apiFetch, type EmailType, type MailboxConfig } from "./email-api";
import { describeApiError } from "./error-text";
import { useI18n } from "./i18n-provider";
import { LiveNotice } from "./ui/alert";
import { CheckboxField } from "./ui/checkbox";

/**
 * Issue 15: the per-mailbox "warn when unusually quiet" switch, beside the mailbox's other
 * settings (it belongs to the mailbox, not to the reader like the alert email switch).
 */
export function QuietAlertToggle({ emailType, config, canEdit }: { emailType: EmailType; config: MailboxConfig; canEdit: boolean }): ReactElement {
  const { t, locale } = useI18n();
  const saved = config.quiet_alert;
  const [enabled, setEnabled] = useState(saved);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const change = async (next: boolean): Promise<void> => {
    setBusy(true);
    setError(null);
    setEnabled(next);
    try {
      const res = await apiFetch<{ quiet_alert: boolean }>(`/api/tenant/email/settings/${emailType}/quiet-alert`, {
        method: "PUT",
        body: { enabled: next },
      });
      setEnabled(res.quiet_alert);
    } catch (err) {
      setEnabled(!next);
      setError(describeApiError(t, locale, err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="mb-3 flex flex-col gap-1">
      <CheckboxField
        id={`${emailType}-quiet-alert`}
        label={t.alerts.quietToggle}
        hint={t.alerts.quietHint}
        checked={enabled}
        disabled={!canEdit || busy}
        onCheckedChange={(v) => void change(v === true)}
      />
      <LiveNotice tone="error-text">{error}</LiveNotice>
    </div>
  );
}
