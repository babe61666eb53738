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
import { Alert } from "./ui/alert";
import { Button } from "./ui/button";
import { Card, PageContainer } from "./ui/card";
import { Spinner } from "./ui/spinner";
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
    <PageContainer>
      <header className="mb-4 flex flex-wrap items-start justify-between gap-4">
        <div>
          <h1 className="mb-0.5 text-[22px] sm:text-[26px]">{t.page.title}</h1>
          <p className="text-muted-foreground">{tenant.name}</p>
        </div>
        <div className="flex w-full flex-wrap items-center justify-between gap-3 sm:w-auto sm:justify-start">
          {canEdit ? (
            <a className="text-sm font-medium text-primary underline-offset-4 hover:underline" href="/settings/webhooks">
              {t.webhooks.link}
            </a>
          ) : null}
          <LanguageSwitch />
          <div className="flex min-w-0 items-center gap-2">
            <span className="hidden max-w-[240px] truncate text-sm text-muted-foreground sm:inline" title={user.email}>
              {user.email}
            </span>
            <Button variant="ghost" size="sm" onClick={() => void logout()}>
              {t.page.logout}
            </Button>
          </div>
        </div>
      </header>

      <main className="flex flex-col gap-4">
        <p className="max-w-[70ch] text-muted-foreground">{t.page.intro}</p>
        {!canEdit ? (
          <Alert as="p" tone="notice">
            {t.page.viewerNote}
          </Alert>
        ) : null}
        <AlertNotices canEdit={canEdit} />

        {loadError && !settings ? (
          <Alert tone="error" role="alert" className="items-start">
            <p>
              {t.page.loadError} {describeApiError(t, locale, loadError)}
            </p>
            <Button size="sm" className="mt-1" onClick={() => void loadSettings()}>
              {t.common.tryAgain}
            </Button>
          </Alert>
        ) : null}

        {!settings && !loadError ? (
          <Card className="flex min-h-40 items-center justify-center gap-3 p-6 text-muted-foreground" aria-busy="true">
            <Spinner />
            <span>{t.common.loading}</span>
          </Card>
        ) : null}

        {settings ? (
          <div className="flex flex-col gap-6">
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
    </PageContainer>
  );
}
