"use client";

import { useEffect, useId, useState } from "react";
import { fmt, formatDateTime } from "@/lib/i18n";
import type { EmailType, MailboxConfig } from "./email-api";
import { describeApiError } from "./error-text";
import { forwardingApi, type ForwardingConfig } from "./forwarding-api";
import { useI18n } from "./i18n-provider";

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
export function ForwardingPanel({ emailType, config, canEdit, onChange }: ForwardingPanelProps) {
  const { t, locale } = useI18n();
  const uid = useId();
  const forwarding = config?.provider === "forwarding" ? ((config as ForwardingConfig).forwarding ?? null) : null;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
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
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const saved = await forwardingApi.save(emailType, {
        ...(mailboxAddress.trim() ? { address: mailboxAddress.trim() } : {}),
        allowed_senders: senders.split(/[\n,;]+/).map((s) => s.trim()).filter(Boolean),
        refuse_dmarc_fail: refuseDmarc,
      });
      setNotice(forwarding ? t.forwarding.saved : null);
      onChange(saved);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const regenerate = async (): Promise<void> => {
    if (!window.confirm(t.forwarding.regenerateConfirm)) return;
    setBusy(true);
    setError(null);
    try {
      const saved = await forwardingApi.regenerate(emailType);
      setNotice(t.forwarding.regenerated);
      onChange(saved);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (!forwarding) {
    return (
      <div className="forwarding-panel" data-testid="forwarding-panel">
        <p>{t.forwarding.intro}</p>
        {error ? <p className="alert alert-error" role="alert">{describeApiError(t, locale, error)}</p> : null}
        {canEdit ? (
          <button type="button" className="button button-primary" disabled={busy} onClick={() => void save()}>
            {busy ? t.forwarding.creating : t.forwarding.create}
          </button>
        ) : null}
      </div>
    );
  }

  const address = forwarding.forwarding_address;
  const health = forwarding.health;
  const verification = forwarding.verification;
  return (
    <div className="forwarding-panel" data-testid="forwarding-panel">
      <p>{t.forwarding.intro}</p>
      <div className="field">
        <label className="field-label" htmlFor={`${uid}-address`}>
          {t.forwarding.addressLabel}
        </label>
        <div className="input-row">
          <input id={`${uid}-address`} className="input" readOnly value={address} data-testid="forwarding-address" onFocus={(e) => e.currentTarget.select()} />
          <button
            type="button"
            className="button"
            data-testid="forwarding-copy"
            onClick={() => void copyText(address).then((ok) => setCopied(ok ? "yes" : "failed"))}
          >
            {copied === "yes" ? t.forwarding.copied : t.forwarding.copy}
          </button>
          {canEdit ? (
            <button type="button" className="button button-ghost" disabled={busy} onClick={() => void regenerate()}>
              {t.forwarding.regenerate}
            </button>
          ) : null}
        </div>
        <div aria-live="polite">{copied === "failed" ? <p className="field-hint">{t.forwarding.copyFailed}</p> : null}</div>
      </div>

      {verification ? (
        <div className="alert alert-warning" data-testid="forwarding-verification">
          <strong className="alert-title">{t.forwarding.verification.heading}</strong>
          <p>{verification.provider === "gmail" ? t.forwarding.verification.gmail : t.forwarding.verification.other}</p>
          {verification.code ? (
            <p>
              {t.forwarding.verification.code}: <code data-testid="forwarding-verification-code">{verification.code}</code>
            </p>
          ) : null}
          {verification.link ? (
            <p>
              <a href={verification.link} target="_blank" rel="noreferrer noopener">
                {t.forwarding.verification.link}
              </a>
            </p>
          ) : null}
        </div>
      ) : null}

      <section className="forwarding-health" aria-labelledby={`${uid}-health`}>
        <h4 id={`${uid}-health`} className="section-title">
          {t.forwarding.health.heading}
        </h4>
        <dl className="meta-list">
          <dt>{t.forwarding.health.last}</dt>
          <dd data-testid="forwarding-last">{health.last_message_at ? formatDateTime(locale, health.last_message_at) : t.forwarding.health.never}</dd>
          <dt>{t.forwarding.health.received24h}</dt>
          <dd>{health.messages_24h}</dd>
          <dt>{t.forwarding.health.failed24h}</dt>
          <dd>{health.failed_24h}</dd>
        </dl>
        {health.send_test_mail ? <p className="notice notice-info">{fmt(t.forwarding.health.testHint, { address })}</p> : null}
      </section>

      <details className="forwarding-guides">
        <summary>{t.forwarding.guides.heading}</summary>
        {(["gmail", "outlook", "cpanel"] as const).map((key) => (
          <div key={key} className="forwarding-guide" data-guide={key}>
            <h5>{t.forwarding.guides[key].title}</h5>
            <ol>
              {t.forwarding.guides[key].steps.map((step, i) => (
                <li key={i}>{step}</li>
              ))}
            </ol>
          </div>
        ))}
      </details>

      {canEdit ? (
        <form
          className="forwarding-policy"
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <div className="field">
            <label className="field-label" htmlFor={`${uid}-mailbox`}>
              {t.forwarding.mailboxAddress.label}
            </label>
            <input id={`${uid}-mailbox`} className="input" type="email" value={mailboxAddress} onChange={(e) => setMailboxAddress(e.target.value)} />
            <p className="field-hint">{t.forwarding.mailboxAddress.hint}</p>
          </div>
          <div className="field">
            <label className="field-label" htmlFor={`${uid}-senders`}>
              {t.forwarding.allowedSenders.label}
            </label>
            <textarea id={`${uid}-senders`} className="input" rows={3} value={senders} onChange={(e) => setSenders(e.target.value)} />
            <p className="field-hint">{t.forwarding.allowedSenders.hint}</p>
          </div>
          <label className="checkbox">
            <input type="checkbox" checked={refuseDmarc} onChange={(e) => setRefuseDmarc(e.target.checked)} /> {t.forwarding.refuseDmarc}
          </label>
          {error ? <p className="alert alert-error" role="alert">{describeApiError(t, locale, error)}</p> : null}
          <div aria-live="polite">{notice ? <p className="alert alert-success">{notice}</p> : null}</div>
          <button type="submit" className="button" disabled={busy}>
            {busy ? t.forwarding.saving : t.forwarding.save}
          </button>
        </form>
      ) : null}
    </div>
  );
}
