"use client";

import { useState, type ReactElement } from "react";
import { apiFetch, type EmailType, type MailboxConfig } from "./email-api";
import { describeApiError } from "./error-text";
import { useI18n } from "./i18n-provider";
import { LiveNotice } from "./ui/alert";
import { CheckboxField } from "./ui/checkbox";
import { usePendingAction } from "./ui/use-pending-action";

/**
 * Issue 15: the per-mailbox "warn when unusually quiet" switch, beside the mailbox's other
 * settings (it belongs to the mailbox, not to the reader like the alert email switch).
 */
export function QuietAlertToggle({ emailType, config, canEdit }: { emailType: EmailType; config: MailboxConfig; canEdit: boolean }): ReactElement {
  const { t, locale } = useI18n();
  const saved = config.quiet_alert;
  const [enabled, setEnabled] = useState(saved);
  const action = usePendingAction();

  const change = async (next: boolean): Promise<void> => {
    // Shown at once; put back if the server says no.
    setEnabled(next);
    const ok = await action.run(async () => {
      const res = await apiFetch<{ quiet_alert: boolean }>(`/api/tenant/email/settings/${emailType}/quiet-alert`, {
        method: "PUT",
        body: { enabled: next },
      });
      setEnabled(res.quiet_alert);
    });
    if (!ok) setEnabled(!next);
  };

  return (
    <div className="mb-3 flex flex-col gap-1">
      <CheckboxField
        id={`${emailType}-quiet-alert`}
        label={t.alerts.quietToggle}
        hint={t.alerts.quietHint}
        checked={enabled}
        disabled={!canEdit || action.pending}
        onCheckedChange={(v) => void change(v === true)}
      />
      <LiveNotice tone="error-text">{action.error ? describeApiError(t, locale, action.error) : null}</LiveNotice>
    </div>
  );
}
