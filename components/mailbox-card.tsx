"use client";

import { useEffect, useId, useRef, useState, type ReactElement } from "react";
import { fmt } from "@/lib/i18n";
import { ConfirmDialog } from "./confirm-dialog";
import { ConnectionHealth, displayStatus, LiveStatusBadge } from "./connection-health";
import { api, type EmailType, type MailboxConfig, type MailboxHealth, type MailboxStats, type Provider } from "./email-api";
import { useI18n } from "./i18n-provider";
import { ForwardingPanel } from "./forwarding-panel";
import { ImapSettingsForm } from "./imap-settings-form";
import { MessageList } from "./message-list";
import { OAuthConnect } from "./oauth-connect";
import { OrganisationMailboxForm } from "./organisation-mailbox-form";
import { PROVIDER_NAME, ProviderIcon, ProviderSelect } from "./provider-select";
import { QuietAlertToggle } from "./quiet-alert-toggle";
import { LiveNotice } from "./ui/alert";
import { Button } from "./ui/button";
import { Card, SectionTitle } from "./ui/card";
import { cn } from "./ui/cn";

/** Every part of the card shares its side padding; sections below the header get a rule above. */
const PAD_X = "px-4 sm:px-6";
const SECTION = cn(PAD_X, "border-t border-border pt-4 sm:pt-6");

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
export function MailboxCard({ emailType, config, health, stats, canEdit, now, onChanged }: MailboxCardProps): ReactElement {
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
    <Card
      as="article"
      className={cn("flex flex-col gap-4 sm:gap-6", !(config && canEdit) && "pb-4 sm:pb-6")}
      aria-labelledby={titleId}
      id={`mailbox-${emailType}`}
      data-email-type={emailType}
    >
      <header className={cn(PAD_X, "flex flex-wrap items-start justify-between gap-x-4 gap-y-2 pt-4 sm:pt-6")}>
        <div className="flex min-w-0 flex-[1_1_280px] flex-col gap-0.5">
          <h2 id={titleId} ref={titleRef} tabIndex={-1} className="rounded-xs text-xl focus-visible:outline-offset-4">
            {title}
          </h2>
          <p className="text-sm text-muted-foreground">{t.mailbox[emailType].description}</p>
        </div>
        <LiveStatusBadge status={displayStatus(config, health)} mailboxTitle={title} />
      </header>

      {config ? (
        <div className={PAD_X}>
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
        </div>
      ) : (
        <p className={cn(PAD_X, "text-muted-foreground")}>{t.mailbox.notConfigured}</p>
      )}

      <section className={SECTION} aria-labelledby={`${settingsId}-heading`}>
        <div className="mb-3 flex flex-wrap items-center justify-between gap-x-3 gap-y-2">
          <SectionTitle id={`${settingsId}-heading`}>{t.mailbox.settingsHeading}</SectionTitle>
          {config && !isOAuth ? (
            <Button
              size="sm"
              aria-expanded={expanded}
              aria-controls={settingsId}
              onClick={() => {
                setExpanded((v) => !v);
                setNotice(null);
              }}
            >
              {expanded ? t.mailbox.hideSettings : t.mailbox.changeSettings}
            </Button>
          ) : null}
        </div>

        {summary ? (
          <p className="mb-3 flex items-center gap-3">
            <ProviderIcon provider={config!.provider} />
            <span className="flex min-w-0 flex-col text-sm">
              <span className="text-body font-semibold">{summary.address}</span>
              {summary.detail ? <span className="text-muted-foreground">{summary.detail}</span> : null}
            </span>
          </p>
        ) : null}
        {config && canEdit ? <QuietAlertToggle key={emailType} emailType={emailType} config={config} canEdit={canEdit} /> : null}

        <LiveNotice ref={noticeRef} tabIndex={-1} tone="success" className="mb-3" data-testid="mailbox-notice">
          {notice}
        </LiveNotice>

        <div id={settingsId} hidden={!open} className="flex flex-col gap-6">
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
              {provider === "forwarding" ? (
                <ForwardingPanel emailType={emailType} config={config} canEdit={canEdit} onChange={(saved) => onChanged(saved)} />
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
        className={SECTION}
        emailType={emailType}
        canEdit={canEdit}
        now={now}
        hideWhenEmpty={!config}
        headingId={messagesHeadingId}
        heading={t.mailbox.messagesHeading}
      />

      {config && canEdit ? (
        <footer className={cn(PAD_X, "flex justify-end rounded-b-lg border-t border-border bg-muted py-3")}>
          <Button variant="destructive-outline" className="max-sm:w-full" onClick={() => setConfirmRemove(true)}>
            {t.mailbox.remove}
          </Button>
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
    </Card>
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
    detail: config.provider === "forwarding" ? "" : PROVIDER_NAME[config.provider],
  };
}
