"use client";

import { Check, Copy, RefreshCw } from "lucide-react";
import { useEffect, useId, useState, type ReactElement, type ReactNode } from "react";
import { fmt, formatDateTime, formatNumber } from "@/lib/i18n";
import type { EmailType, MailboxConfig } from "./email-api";
import { describeApiError } from "./error-text";
import { forwardingApi, type ForwardingConfig } from "./forwarding-api";
import { useI18n } from "./i18n-provider";
import { ActionForm } from "./ui/action-form";
import { Alert, AlertTitle, LiveNotice, LiveRegion } from "./ui/alert";
import { Button, PendingButton } from "./ui/button";
import { CheckboxField } from "./ui/checkbox";
import { cn } from "./ui/cn";
import { SectionTitle } from "./ui/card";
import { FormControl, FormField, InputField } from "./ui/form-field";
import { Input, verbatimInput } from "./ui/input";
import { Textarea } from "./ui/textarea";
import { usePendingAction } from "./ui/use-pending-action";

type ForwardingPanelProps = {
  emailType: EmailType;
  config: MailboxConfig | null;
  canEdit: boolean;
  onChange: (saved?: MailboxConfig) => void;
};

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Forwarding (issue 16): the mailbox's own address at our inbound SMTP server, with a copy
 * button, setup guides, the provider's confirmation code, what has arrived, and the sender policy.
 */
export function ForwardingPanel({ emailType, config, canEdit, onChange }: ForwardingPanelProps): ReactElement {
  const { t, locale } = useI18n();
  const uid = useId();
  const forwarding = config?.provider === "forwarding" ? ((config as ForwardingConfig).forwarding ?? null) : null;
  const action = usePendingAction();
  const [copied, setCopied] = useState<"yes" | "failed" | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [senders, setSenders] = useState((forwarding?.allowed_senders ?? []).join("\n"));
  const [refuseDmarc, setRefuseDmarc] = useState(forwarding?.refuse_dmarc_fail ?? false);
  const [mailboxAddress, setMailboxAddress] = useState(config?.address ?? "");

  const savedSenders = (forwarding?.allowed_senders ?? []).join("\n");
  const savedRefuse = forwarding?.refuse_dmarc_fail ?? false;
  useEffect(() => {
    setSenders(savedSenders);
    setRefuseDmarc(savedRefuse);
  }, [savedSenders, savedRefuse]);

  const save = async (): Promise<void> => {
    setNotice(null);
    await action.run(async () => {
      const saved = await forwardingApi.save(emailType, {
        ...(mailboxAddress.trim() ? { address: mailboxAddress.trim() } : {}),
        allowed_senders: senders.split(/[\n,;]+/).map((s) => s.trim()).filter(Boolean),
        refuse_dmarc_fail: refuseDmarc,
      });
      setNotice(forwarding ? t.forwarding.saved : null);
      onChange(saved);
    });
  };

  const regenerate = async (): Promise<void> => {
    if (!window.confirm(t.forwarding.regenerateConfirm)) return;
    await action.run(async () => {
      const saved = await forwardingApi.regenerate(emailType);
      setNotice(t.forwarding.regenerated);
      onChange(saved);
    });
  };

  const errorAlert = action.error ? (
    <Alert as="p" tone="error" role="alert">
      {describeApiError(t, locale, action.error)}
    </Alert>
  ) : null;

  if (!forwarding) {
    return (
      <div className="flex max-w-[760px] flex-col items-start gap-3" data-testid="forwarding-panel">
        <p className="text-sm text-muted-foreground">{t.forwarding.intro}</p>
        {errorAlert}
        {canEdit ? (
          <PendingButton variant="default" pending={action.pending} pendingLabel={t.forwarding.creating} onClick={() => void save()}>
            {t.forwarding.create}
          </PendingButton>
        ) : null}
      </div>
    );
  }

  const address = forwarding.forwarding_address;
  const health = forwarding.health;
  const verification = forwarding.verification;
  return (
    <div className="flex max-w-[760px] flex-col gap-5" data-testid="forwarding-panel">
      <p className="text-sm text-muted-foreground">{t.forwarding.intro}</p>

      <FormField id={`${uid}-address`} label={t.forwarding.addressLabel} error={copied === "failed" ? t.forwarding.copyFailed : null}>
        <div className="flex flex-wrap gap-2">
          <FormControl>
            <Input
              readOnly
              value={address}
              data-testid="forwarding-address"
              className="min-w-0 flex-[1_1_100%] font-mono text-sm"
              onFocus={(e) => e.currentTarget.select()}
            />
          </FormControl>
          <Button data-testid="forwarding-copy" className="max-sm:flex-1" onClick={() => void copyText(address).then((ok) => setCopied(ok ? "yes" : "failed"))}>
            {copied === "yes" ? <Check aria-hidden="true" className="size-4 text-success" /> : <Copy aria-hidden="true" className="size-4" />}
            <LiveRegion as="span">{copied === "yes" ? t.forwarding.copied : t.forwarding.copy}</LiveRegion>
          </Button>
          {canEdit ? (
            <Button variant="ghost" className="max-sm:flex-1" disabled={action.pending} onClick={() => void regenerate()}>
              <RefreshCw aria-hidden="true" className="size-4" />
              {t.forwarding.regenerate}
            </Button>
          ) : null}
        </div>
      </FormField>

      {verification ? (
        <Alert tone="warning" data-testid="forwarding-verification">
          <AlertTitle>{t.forwarding.verification.heading}</AlertTitle>
          <p>{verification.provider === "gmail" ? t.forwarding.verification.gmail : t.forwarding.verification.other}</p>
          {verification.code ? (
            <p>
              {t.forwarding.verification.code}:{" "}
              <code className="rounded-sm bg-card px-1.5 py-0.5 font-mono text-base font-semibold text-foreground" data-testid="forwarding-verification-code">
                {verification.code}
              </code>
            </p>
          ) : null}
          {verification.link ? (
            <p>
              <a href={verification.link} target="_blank" rel="noreferrer noopener" className="font-medium underline underline-offset-2">
                {t.forwarding.verification.link}
              </a>
            </p>
          ) : null}
        </Alert>
      ) : null}

      <section className="flex flex-col gap-2" aria-labelledby={`${uid}-health`}>
        <SectionTitle id={`${uid}-health`}>{t.forwarding.health.heading}</SectionTitle>
        <dl className="m-0 grid grid-cols-1 gap-px overflow-hidden rounded-md border border-border bg-border sm:grid-cols-3">
          <Stat label={t.forwarding.health.last} testId="forwarding-last">
            {health.last_message_at ? formatDateTime(locale, health.last_message_at) : t.forwarding.health.never}
          </Stat>
          <Stat label={t.forwarding.health.received24h}>{formatNumber(locale, health.messages_24h)}</Stat>
          <Stat label={t.forwarding.health.failed24h} bad={health.failed_24h > 0}>
            {formatNumber(locale, health.failed_24h)}
          </Stat>
        </dl>
        {health.send_test_mail ? (
          <Alert as="p" tone="notice">
            {fmt(t.forwarding.health.testHint, { address })}
          </Alert>
        ) : null}
      </section>

      <details className="group rounded-md border border-border bg-muted">
        <summary className="px-3 py-2.5 text-sm font-medium">{t.forwarding.guides.heading}</summary>
        <div className="grid gap-4 border-t border-border px-3 py-3 md:grid-cols-3">
          {(["gmail", "outlook", "cpanel"] as const).map((key) => (
            <div key={key} className="flex min-w-0 flex-col gap-1.5" data-guide={key}>
              <h4 className="text-sm font-semibold">{t.forwarding.guides[key].title}</h4>
              <ol className="m-0 list-decimal space-y-1 pl-5 text-sm">
                {t.forwarding.guides[key].steps.map((step, i) => (
                  <li key={i}>{step}</li>
                ))}
              </ol>
            </div>
          ))}
        </div>
      </details>

      {canEdit ? (
        <ActionForm className="flex flex-col gap-4 border-t border-border pt-4" onAction={save}>
          <InputField
            id={`${uid}-mailbox`}
            label={t.forwarding.mailboxAddress.label}
            hint={t.forwarding.mailboxAddress.hint}
            type="email"
            {...verbatimInput}
            value={mailboxAddress}
            onChange={(e) => setMailboxAddress(e.target.value)}
          />
          <FormField id={`${uid}-senders`} label={t.forwarding.allowedSenders.label} hint={t.forwarding.allowedSenders.hint}>
            <FormControl>
              <Textarea rows={3} spellCheck={false} value={senders} onChange={(e) => setSenders(e.target.value)} />
            </FormControl>
          </FormField>
          <CheckboxField id={`${uid}-dmarc`} label={t.forwarding.refuseDmarc} checked={refuseDmarc} onCheckedChange={(v) => setRefuseDmarc(v === true)} />
          {errorAlert}
          <LiveNotice tone="success">{notice}</LiveNotice>
          <div>
            <PendingButton type="submit" variant="default" className="max-sm:w-full" pending={action.pending} pendingLabel={t.forwarding.saving}>
              {t.forwarding.save}
            </PendingButton>
          </div>
        </ActionForm>
      ) : null}
    </div>
  );
}

function Stat({ label, bad = false, testId, children }: { label: string; bad?: boolean; testId?: string; children: ReactNode }): ReactElement {
  return (
    <div className="min-w-0 bg-card p-3">
      <dt className="text-xs leading-[1.3] text-muted-foreground">{label}</dt>
      <dd data-testid={testId} className={cn("mt-1 text-body font-semibold tabular-nums", bad && "text-destructive")}>
        {children}
      </dd>
    </div>
  );
}
