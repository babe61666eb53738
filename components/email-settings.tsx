"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import type { Locale } from "@/lib/i18n";
import {
  api,
  EMAIL_TYPES,
  type HealthResponse,
  type MailboxConfig,
  type MailboxHealth,
  type MailboxStats,
  type SettingsResponse,
  type StatsResponse,
} from "./email-api";
import { AlertNotices } from "./alert-notices";
import { describeApiError } from "./error-text";
import { I18nProvider, useI18n } from "./i18n-provider";
import { LanguageSwitch } from "./language-switch";
import { MailboxCard } from "./mailbox-card";
import { useVisiblePolling } from "./use-visible-polling";

const POLL_MS = 3000;

export type EmailSettingsProps = {
  locale: Locale;
  user: { email: string; role: "admin" | "viewer" };
  tenant: { name: string };
};

/** The whole settings page below the server component: language, header, one card per mailbox. */
export function EmailSettings({ locale, ...props }: EmailSettingsProps) {
  return (
    <I18nProvider initialLocale={locale}>
      <EmailSettingsPage {...props} />
    </I18nProvider>
  );
}

function statsFromHealth(health: MailboxHealth & Partial<MailboxStats>): MailboxStats | undefined {
  if (typeof health.processed_24h !== "number") return undefined;
  return {
    processed_24h: health.processed_24h,
    failed_24h: health.failed_24h ?? 0,
    avg_processing_time_ms: health.avg_processing_time_ms ?? 0,
    queue_size: health.queue_size ?? 0,
  };
}

function EmailSettingsPage({ user, tenant }: Omit<EmailSettingsProps, "locale">) {
  const { t, locale } = useI18n();
  const canEdit = user.role === "admin";
  const [settings, setSettings] = useState<SettingsResponse | null>(null);
  const [health, setHealth] = useState<HealthResponse | null>(null);
  const [stats, setStats] = useState<StatsResponse["by_type"] | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [now, setNow] = useState(() => Date.now());

  const settingsRef = useRef<SettingsResponse | null>(null);
  useEffect(() => {
    settingsRef.current = settings;
  }, [settings]);

  const loadSettings = useCallback(async () => {
    try {
      const next = await api.settings();
      settingsRef.current = next;
      setSettings(next);
      setLoadError(null);
    } catch (err) {
      setLoadError(err);
    }
  }, []);

  /** Health carries the per-mailbox counts; /stats is only asked when it does not. */
  const loadHealth = useCallback(async () => {
    try {
      const h = await api.health();
      setHealth(h);
      // Configured or removed elsewhere (another tab, another admin): the health notices first.
      const known = settingsRef.current;
      if (known && EMAIL_TYPES.some((type) => (h[type].status === "not_configured") !== (known[type] === null))) {
        void loadSettings();
      }
      const fromHealth = { booking: statsFromHealth(h.booking), stopsale: statsFromHealth(h.stopsale) };
      if (fromHealth.booking && fromHealth.stopsale) {
        setStats({ booking: fromHealth.booking, stopsale: fromHealth.stopsale });
      } else {
        setStats((await api.stats()).by_type);
      }
    } catch {
      // keep showing the last known health; the next poll tries again
    } finally {
      setNow(Date.now());
    }
  }, [loadSettings]);

  useEffect(() => {
    void loadSettings();
    void loadHealth();
  }, [loadSettings, loadHealth]);

  useVisiblePolling(loadHealth, POLL_MS);

  const onChanged = useCallback(
    (type: (typeof EMAIL_TYPES)[number], next?: MailboxConfig | null) => {
      if (next !== undefined) setSettings((prev) => (prev ? { ...prev, [type]: next } : prev));
      void loadSettings();
      void loadHealth();
    },
    [loadSettings, loadHealth],
  );

  const logout = async (): Promise<void> => {
    try {
      await api.logout();
    } finally {
      window.location.assign("/login");
    }
  };

  return (
    <div className="page">
      <header className="page-header">
        <div className="page-heading">
          <h1>{t.page.title}</h1>
          <p className="muted">{tenant.name}</p>
        </div>
        <div className="page-tools">
          {canEdit ? <a href="/settings/webhooks">{t.webhooks.link}</a> : null}
          <LanguageSwitch />
          <div className="account">
            <span className="account-email" title={user.email}>
              {user.email}
            </span>
            <button type="button" className="button button-ghost button-small" onClick={() => void logout()}>
              {t.page.logout}
            </button>
          </div>
        </div>
      </header>

      <main className="page-main">
        <p className="page-intro">{t.page.intro}</p>
        {!canEdit ? <p className="notice notice-info">{t.page.viewerNote}</p> : null}
        <AlertNotices canEdit={canEdit} />

        {loadError && !settings ? (
          <div className="alert alert-error" role="alert">
            <p>
              {t.page.loadError} {describeApiError(t, locale, loadError)}
            </p>
            <button type="button" className="button button-small" onClick={() => void loadSettings()}>
              {t.common.tryAgain}
            </button>
          </div>
        ) : null}

        {!settings && !loadError ? (
          <div className="card card-loading" aria-busy="true">
            <span className="spinner" aria-hidden="true" />
            <span>{t.common.loading}</span>
          </div>
        ) : null}

        {settings ? (
          <div className="mailboxes">
            {EMAIL_TYPES.map((type) => (
              <MailboxCard
                key={type}
                emailType={type}
                config={settings[type]}
                health={health?.[type]}
                stats={stats?.[type]}
                canEdit={canEdit}
                now={now}
                onChanged={(next) => onChanged(type, next)}
              />
            ))}
          </div>
        ) : null}
      </main>
    </div>
  );
}
