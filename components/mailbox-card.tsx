"use client";

import { useEffect, useId, useRef, useState } from "react";
import { fmt } from "@/lib/i18n";
import { ConfirmDialog } from "./confirm-dialog";
import { ConnectionHealth, displayStatus, LiveStatusBadge } from "./connection-health";
import { api, type EmailType, type MailboxConfig, type MailboxHealth, type MailboxStats, type Provider } from "./email-api";
import { useI18n } from "./i18n-provider";
import { ImapSettingsForm } from "./imap-settings-form";
import { MessageList } from "./message-list";
import { OAuthConnect } from "./oauth-connect";
import { OrganisationMailboxForm } from "./organisation-mailbox-form";
import { ProviderIcon, ProviderSelect } from "./provider-select";

type MailboxCardProps = {
  emailType: EmailType;
  config: MailboxConfig | null;
  health: MailboxHealth | undefined;
  stats: MailboxStats | undefined;
  canEdit: boolean;
  now: number;
  /** The saved settings changed (saved, removed, connected): reload them and the health. */
  onChanged: (next?: MailboxConfig | null) => void;
};

/**
 * One mailbox (Booking or Stop sale): its health, how it is connected, its recent messages.
 * A connected mailbox shows a one-line summary; its settings open on demand.
 */
export function MailboxCard({ emailType, config, health, stats, canEdit, now, onChanged }: MailboxCardProps) {
  const { t, locale } = useI18n();
  const ids = useId();
  const titleId = `${emailType}-title${ids}`;
  const settingsId = `${emailType}-settings${ids}`;
  const messagesHeadingId = `${emailType}-messages${ids}`;
  const title = t.mailbox[emailType].title;

  const [provider, setProvider] = useState<Provider | null>(config?.provider ?? null);
  const [expanded, setExpanded] = useState(!config);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirmRemove, setConfirmRemove] = useState(false);
  const noticeRef = useRef<HTMLParagraphElement>(null);
  const titleRef = useRef<HTMLHeadingElement>(null);
  const focusNotice = useRef(false);
  const removed = useRef(false);
  const focusForm = useRef(false);

  // When the saved provider changes (saved elsewhere, removed), follow it.
  const savedProvider = config?.provider ?? null;
  useEffect(() => {
    setProvider(savedProvider);
    if (!savedProvider) setExpanded(true);
  }, [savedProvider]);

  useEffect(() => {
    if (notice && focusNotice.current) {
      focusNotice.current = false;
      noticeRef.current?.focus();
    }
  }, [notice]);

  // Opened from the error's "Change settings": continue in the form, at its first field.
  useEffect(() => {
    if (expanded && focusForm.current) {
      focusForm.current = false;
      document.getElementById(settingsId)?.querySelector<HTMLElement>("form input:not([type=radio]):not([type=hidden])")?.focus();
    }
  }, [expanded, settingsId]);

  const onSaved = (saved: MailboxConfig): void => {
    setExpanded(false);
    focusNotice.current = true;
    setNotice(t.mailbox.saved);
    onChanged(saved);
  };

  const remove = async (): Promise<void> => {
    await api.removeSettings(emailType);
    removed.current = true;
    setNotice(fmt(t.mailbox.removed, { mailbox: title }));
    onChanged(null);
  };

  // An OAuth mailbox's settings are OAuthConnect itself (address, Reconnect, Disconnect): always shown.
  const isOAuth = config !== null && config.provider !== "imap";
  const open = expanded || isOAuth;
  const summary = config && !isOAuth ? summaryOf(config, t.mailbox.summaryImap) : null;

  return (
    <article className="card mailbox-card" aria-labelledby={titleId} id={`mailbox-${emailType}`} data-email-type={emailType}>
      <header className="mailbox-header">
        <div className="mailbox-heading">
          <h2 id={titleId} ref={titleRef} tabIndex={-1} className="mailbox-title">
            {title}
          </h2>
          <p className="muted mailbox-description">{t.mailbox[emailType].description}</p>
        </div>
        <LiveStatusBadge status={displayStatus(config, health)} mailboxTitle={title} />
      </header>

      {config ? (
        <ConnectionHealth
          config={config}
          health={health}
          stats={stats}
          now={now}
          errorAction={
            config.provider === "imap" && canEdit && !expanded
              ? {
                  label: t.mailbox.changeSettings,
                  onClick: () => {
                    setExpanded(true);
                    setNotice(null);
                    focusForm.current = true;
                  },
                }
              : undefined
          }
        />
      ) : (
        <p className="mailbox-empty">{t.mailbox.notConfigured}</p>
      )}

      <section className="settings" aria-labelledby={`${settingsId}-heading`}>
        <div className="section-header">
          <h3 id={`${settingsId}-heading`} className="section-title">
            {t.mailbox.settingsHeading}
          </h3>
          {config && !isOAuth ? (
            <button
              type="button"
              className="button button-small"
              aria-expanded={expanded}
              aria-controls={settingsId}
              onClick={() => {
                setExpanded((v) => !v);
                setNotice(null);
              }}
            >
              {expanded ? t.mailbox.hideSettings : t.mailbox.changeSettings}
            </button>
          ) : null}
        </div>

        {summary ? (
          <p className="settings-summary">
            <ProviderIcon provider={config!.provider} />
            <span className="settings-summary-text">
              <span className="settings-summary-address">{summary.address}</span>
              {summary.detail ? <span className="muted">{summary.detail}</span> : null}
            </span>
          </p>
        ) : null}

        <div aria-live="polite">
          {notice ? (
            <p ref={noticeRef} tabIndex={-1} className="alert alert-success" data-testid="mailbox-notice">
              {notice}
            </p>
          ) : null}
        </div>

        <div id={settingsId} hidden={!open} className="settings-body">
          {open ? (
            <>
              <ProviderSelect
                name={`${emailType}-provider`}
                value={provider}
                disabled={!canEdit}
                onChange={(p) => {
                  setProvider(p);
                  setNotice(null);
                }}
              />
              {provider === "imap" ? (
                <ImapSettingsForm
                  emailType={emailType}
                  config={config}
                  canEdit={canEdit}
                  onSaved={onSaved}
                  onChooseProvider={(p) => setProvider(p)}
                />
              ) : null}
              {provider === "google" || provider === "microsoft" ? (
                <OrganisationMailboxForm emailType={emailType} provider={provider} config={config} canEdit={canEdit} onSaved={onSaved} ownConnect={
                <OAuthConnect
                  key={provider}
                  emailType={emailType}
                  provider={provider}
                  connectedEmail={
                    config?.provider === provider && config.oauth?.is_connected ? config.oauth.connected_email : null
                  }
                  needsReauth={config?.provider === provider && health?.status === "needs_reauth"}
                  canEdit={canEdit}
                  locale={locale}
                  onChange={() => onChanged()}
                />} />
              ) : null}
            </>
          ) : null}
        </div>
      </section>

      <MessageList
        emailType={emailType}
        canEdit={canEdit}
        now={now}
        hideWhenEmpty={!config}
        headingId={messagesHeadingId}
        heading={t.mailbox.messagesHeading}
      />

      {config && canEdit ? (
        <footer className="mailbox-footer">
          <button type="button" className="button button-danger-outline" onClick={() => setConfirmRemove(true)}>
            {t.mailbox.remove}
          </button>
        </footer>
      ) : null}

      <ConfirmDialog
        open={confirmRemove}
        onOpenChange={setConfirmRemove}
        title={fmt(t.mailbox.removeTitle, { mailbox: title })}
        description={<p>{fmt(t.mailbox.removeBody, { address: config?.oauth?.connected_email || config?.address || title })}</p>}
        confirmLabel={t.mailbox.removeConfirm}
        pendingLabel={t.mailbox.removing}
        destructive
        onConfirm={remove}
        onCloseAutoFocus={(event) => {
          // After a removal the Remove button is gone: continue from the card's title.
          if (removed.current) {
            removed.current = false;
            event.preventDefault();
            titleRef.current?.focus();
          }
        }}
      />
    </article>
  );
}

function summaryOf(config: MailboxConfig, imapTemplate: string): { address: string; detail: string } {
  if (config.provider === "imap") {
    const protocol = config.protocol === "pop3" ? "POP3" : "IMAP";
    const detail = fmt(imapTemplate, { protocol, host: config.host ?? "?", port: config.port ?? "?" });
    const mode = config.tls_mode ?? (config.use_ssl ? "implicit" : "starttls");
    const suffix = { implicit: " · SSL/TLS", starttls: " · STARTTLS", none: "" }[mode];
    return { address: config.address ?? config.username ?? "", detail: `${detail}${suffix}` };
  }
  return {
    address: config.oauth?.connected_email ?? config.address ?? "",
    detail: config.provider === "google" ? "Google" : "Microsoft",
  };
}
