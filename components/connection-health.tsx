"use client";

import { Check, Circle, CircleAlert, X } from "lucide-react";
import { useRef, type ReactElement, type ReactNode } from "react";
import { formatDateTime, formatDuration, formatNumber, formatRelative, plural } from "@/lib/i18n";
import type { MailboxConfig, MailboxHealth, MailboxStats, MailboxStatus } from "./email-api";
import { describeMailError } from "./error-text";
import { FirstImportProgress } from "./first-import-progress";
import { HourlyChart } from "./hourly-chart";
import { useI18n } from "./i18n-provider";
import { Alert, AlertTitle } from "./ui/alert";
import { Badge, type BadgeTone } from "./ui/badge";
import { Button } from "./ui/button";
import { cn } from "./ui/cn";
import { ProgressNotice } from "./ui/progress";
import { Spinner } from "./ui/spinner";

export type DisplayStatus = MailboxStatus | "disabled";

export function displayStatus(config: MailboxConfig | null, health: MailboxHealth | null | undefined): DisplayStatus {
  if (!config) return "not_configured";
  if (!config.enabled) return "disabled";
  const status = health?.status;
  // Saved a moment ago and the watcher has not reported yet: it is on its way.
  if (!status || status === "not_configured") return "connecting";
  return status;
}

const TONE: Record<DisplayStatus, BadgeTone> = {
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
export function LiveStatusBadge({ status, mailboxTitle }: { status: DisplayStatus; mailboxTitle: string }): ReactElement {
  return (
    <span role="status" aria-live="polite" aria-atomic="true" className="inline-flex flex-none">
      <StatusBadge status={status} prefix={mailboxTitle} />
    </span>
  );
}

/** Colour plus a shape plus the word: the status is never told by colour alone. */
export function StatusBadge({ status, prefix }: { status: DisplayStatus; prefix?: string }): ReactElement {
  const { t } = useI18n();
  return (
    <Badge tone={TONE[status]} data-status={status}>
      <StatusIcon status={status} />
      {prefix ? <span className="sr-only">{prefix}: </span> : null}
      <span>{t.health.status[status]}</span>
    </Badge>
  );
}

function StatusIcon({ status }: { status: DisplayStatus }): ReactElement {
  const common = { "aria-hidden": true, focusable: false, strokeWidth: 3 } as const;
  switch (status) {
    case "connected":
      return <Check {...common} />;
    case "connecting":
      return <Spinner className="size-3" />;
    case "error":
      return <X {...common} />;
    case "needs_reauth":
      return <CircleAlert {...common} strokeWidth={2.5} />;
    default:
      return <Circle {...common} strokeWidth={2.5} />;
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
export function ConnectionHealth({ config, health, stats, now, errorAction }: ConnectionHealthProps): ReactElement {
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
    <section className="flex flex-col gap-4" aria-label={t.mailbox.connectionHeading}>
      {hint ? <p className="text-sm text-muted-foreground">{hint}</p> : null}

      {config && health?.first_import ? <FirstImportProgress progress={health.first_import} /> : null}
      {backlog > 0 && !(config && health?.first_import) ? (
        <ProgressNotice label={plural(locale, t.health.syncing, backlog)} max={peak} value={peak - backlog} />
      ) : null}

      {errorText ? (
        <Alert tone={status === "needs_reauth" ? "warning" : "error"} className="items-start">
          <AlertTitle>{t.health.lastError}</AlertTitle>
          <p>{errorText.title}</p>
          <p className="text-foreground">
            <strong>{t.health.whatToDo}</strong> {errorText.advice}
          </p>
          {errorAction ? (
            <Button size="sm" className="mt-1" onClick={errorAction.onClick}>
              {errorAction.label}
            </Button>
          ) : null}
        </Alert>
      ) : null}

      {config ? (
        <>
          <dl className="m-0 grid grid-cols-2 gap-px overflow-hidden rounded-md border border-border bg-border sm:grid-cols-3 min-[53.8125rem]:grid-cols-6">
            <Stat label={t.health.lastSync}>
              {lastSync ? (
                <time dateTime={lastSync} title={formatDateTime(locale, lastSync)}>
                  {formatRelative(locale, lastSync, now, "short")}
                </time>
              ) : (
                t.health.never
              )}
            </Stat>
            <Stat label={t.health.processed24h}>{formatNumber(locale, stats?.processed_24h ?? 0)}</Stat>
            <Stat label={t.health.failed24h} bad={(stats?.failed_24h ?? 0) > 0}>
              {formatNumber(locale, stats?.failed_24h ?? 0)}
            </Stat>
            <Stat label={t.health.errors24h} bad={(health?.error_count ?? 0) > 0}>
              {formatNumber(locale, health?.error_count ?? config.error_count_24h ?? 0)}
            </Stat>
            <Stat label={t.health.avgTime}>
              {stats && stats.avg_processing_time_ms > 0 ? formatDuration(locale, stats.avg_processing_time_ms) : "—"}
            </Stat>
            <Stat label={t.health.queue}>{formatNumber(locale, stats?.queue_size ?? 0)}</Stat>
          </dl>
          <HourlyChart points={health?.hourly ?? []} now={now} />
        </>
      ) : null}
    </section>
  );
}

/** One cell of the counts grid: a small label over a large number. */
function Stat({ label, bad = false, children }: { label: string; bad?: boolean; children: ReactNode }): ReactElement {
  return (
    <div className="min-w-0 bg-card p-3">
      <dt className="text-xs leading-[1.3] text-muted-foreground">{label}</dt>
      <dd className={cn("mt-1 truncate text-lg font-semibold tabular-nums", bad && "text-destructive")}>{children}</dd>
    </div>
  );
}
