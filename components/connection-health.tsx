"use client";

import { useRef } from "react";
import { formatDateTime, formatDuration, formatNumber, formatRelative, plural } from "@/lib/i18n";
import type { MailboxConfig, MailboxHealth, MailboxStats, MailboxStatus } from "./email-api";
import { describeMailError } from "./error-text";
import { FirstImportProgress } from "./first-import-progress";
import { HourlyChart } from "./hourly-chart";
import { useI18n } from "./i18n-provider";

export type DisplayStatus = MailboxStatus | "disabled";

export function displayStatus(config: MailboxConfig | null, health: MailboxHealth | null | undefined): DisplayStatus {
  if (!config) return "not_configured";
  if (!config.enabled) return "disabled";
  const status = health?.status;
  // Saved a moment ago and the watcher has not reported yet: it is on its way.
  if (!status || status === "not_configured") return "connecting";
  return status;
}

const TONE: Record<DisplayStatus, string> = {
  connected: "success",
  connecting: "info",
  disconnected: "neutral",
  error: "danger",
  needs_reauth: "warning",
  paused: "warning",
  not_configured: "neutral",
  disabled: "neutral",
};

/**
 * The mailbox's status as a live region: a change (connecting -> connected) is announced with the
 * mailbox's name. Colour plus a shape plus the word: never colour alone.
 */
export function LiveStatusBadge({ status, mailboxTitle }: { status: DisplayStatus; mailboxTitle: string }) {
  return (
    <span role="status" aria-live="polite" aria-atomic="true" className="status-live">
      <StatusBadge status={status} prefix={mailboxTitle} />
    </span>
  );
}

/** Colour plus a shape plus the word: the status is never told by colour alone. */
export function StatusBadge({ status, prefix }: { status: DisplayStatus; prefix?: string }) {
  const { t } = useI18n();
  return (
    <span className={`badge badge-${TONE[status]}`} data-status={status}>
      <StatusIcon status={status} />
      {prefix ? <span className="visually-hidden">{prefix}: </span> : null}
      <span className="badge-text">{t.health.status[status]}</span>
    </span>
  );
}

function StatusIcon({ status }: { status: DisplayStatus }) {
  const common = { className: "badge-icon", viewBox: "0 0 16 16", "aria-hidden": true, focusable: false } as const;
  switch (status) {
    case "connected":
      return (
        <svg {...common}>
          <path d="M3.5 8.5l3 3 6-7" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" />
        </svg>
      );
    case "connecting":
      return <span className="spinner spinner-small" aria-hidden="true" />;
    case "error":
      return (
        <svg {...common}>
          <path d="M4.5 4.5l7 7M11.5 4.5l-7 7" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
        </svg>
      );
    case "needs_reauth":
      return (
        <svg {...common}>
          <path d="M8 3v6" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
          <circle cx="8" cy="12.5" r="1.2" fill="currentColor" />
        </svg>
      );
    default:
      return (
        <svg {...common}>
          <circle cx="8" cy="8" r="4.5" fill="none" stroke="currentColor" strokeWidth="2" />
        </svg>
      );
  }
}

type ConnectionHealthProps = {
  config: MailboxConfig | null;
  health: MailboxHealth | null | undefined;
  stats: MailboxStats | null | undefined;
  now: number;
  /** Shown with the last error, e.g. "Change settings" when the fix is in the form. */
  errorAction?: { label: string; onClick: () => void };
};

/**
 * Is the mailbox working, and how much went through it: status, last sync, last error with
 * advice, 24 h counts, the sync backlog and the hourly chart. Re-rendered by the page's polling.
 */
export function ConnectionHealth({ config, health, stats, now, errorAction }: ConnectionHealthProps) {
  const { t, locale } = useI18n();
  const status = displayStatus(config, health);
  const backlog = config ? Math.max(0, health?.backlog ?? 0) : 0;

  // Progress of a sync: the largest backlog seen since it started is the 100 %.
  const backlogPeak = useRef(0);
  if (backlog === 0) backlogPeak.current = 0;
  else if (backlog > backlogPeak.current) backlogPeak.current = backlog;
  const peak = backlogPeak.current;

  const lastSync = health?.last_sync ?? config?.last_success_at ?? null;
  const lastError = health?.last_error ?? null;
  const showError = Boolean(lastError) && (status === "error" || status === "needs_reauth" || status === "disconnected");
  const errorText = showError
    ? describeMailError(
        t,
        locale,
        { code: health?.last_error_code ?? (status === "needs_reauth" ? "needs_reauth" : null), message: lastError },
        { host: config?.host, port: config?.port, folder: config?.folder, protocol: config?.protocol },
      )
    : null;

  const hint =
    status === "connecting"
      ? t.health.connectingHint
      : status === "disconnected" && !showError
        ? t.health.disconnectedHint
        : status === "disabled"
          ? t.health.disabledHint
          : null;

  return (
    <section className="health" aria-label={t.mailbox.connectionHeading}>
      {hint ? <p className="health-hint">{hint}</p> : null}

      {config && health?.first_import ? <FirstImportProgress progress={health.first_import} /> : null}
      {backlog > 0 && !(config && health?.first_import) ? (
        <div className="backlog" role="status" aria-live="polite">
          <span className="backlog-text">{plural(locale, t.health.syncing, backlog)}</span>
          <progress
            className="backlog-bar"
            max={peak}
            value={peak - backlog}
            aria-label={plural(locale, t.health.syncing, backlog)}
          />
        </div>
      ) : null}

      {errorText ? (
        <div className={`alert ${status === "needs_reauth" ? "alert-warning" : "alert-error"} health-error`}>
          <strong className="alert-title">{t.health.lastError}</strong>
          <p>{errorText.title}</p>
          <p className="alert-advice">
            <strong>{t.health.whatToDo}</strong> {errorText.advice}
          </p>
          {errorAction ? (
            <button type="button" className="button button-small" onClick={errorAction.onClick}>
              {errorAction.label}
            </button>
          ) : null}
        </div>
      ) : null}

      {config ? (
        <>
          <dl className="stats">
            <div className="stat">
              <dt>{t.health.lastSync}</dt>
              <dd>
                {lastSync ? (
                  <time dateTime={lastSync} title={formatDateTime(locale, lastSync)}>
                    {formatRelative(locale, lastSync, now, "short")}
                  </time>
                ) : (
                  t.health.never
                )}
              </dd>
            </div>
            <div className="stat">
              <dt>{t.health.processed24h}</dt>
              <dd>{formatNumber(locale, stats?.processed_24h ?? 0)}</dd>
            </div>
            <div className="stat">
              <dt>{t.health.failed24h}</dt>
              <dd className={(stats?.failed_24h ?? 0) > 0 ? "stat-bad" : undefined}>{formatNumber(locale, stats?.failed_24h ?? 0)}</dd>
            </div>
            <div className="stat">
              <dt>{t.health.errors24h}</dt>
              <dd className={(health?.error_count ?? 0) > 0 ? "stat-bad" : undefined}>
                {formatNumber(locale, health?.error_count ?? config.error_count_24h ?? 0)}
              </dd>
            </div>
            <div className="stat">
              <dt>{t.health.avgTime}</dt>
              <dd>{stats && stats.avg_processing_time_ms > 0 ? formatDuration(locale, stats.avg_processing_time_ms) : "—"}</dd>
            </div>
            <div className="stat">
              <dt>{t.health.queue}</dt>
              <dd>{formatNumber(locale, stats?.queue_size ?? 0)}</dd>
            </div>
          </dl>
          <HourlyChart points={health?.hourly ?? []} now={now} />
        </>
      ) : null}
    </section>
  );
}
