"use client";

import { useId, type ReactElement } from "react";
import { fmt, formatHour, formatNumber } from "@/lib/i18n";
import type { HourlyPoint } from "./email-api";
import { useI18n } from "./i18n-provider";

const HOUR = 3_600_000;
const WIDTH = 240;
const HEIGHT = 56;
const SLOT = WIDTH / 24;
const BAR = SLOT - 3;

type Bucket = { start: number; processed: number; failed: number };

/** 24 one-hour buckets ending with the current hour; hours the API left out count as zero. */
export function hourlyBuckets(points: HourlyPoint[], now: number): Bucket[] {
  const current = Math.floor(now / HOUR) * HOUR;
  const byHour = new Map<number, HourlyPoint>();
  for (const p of points) {
    const t = Math.floor(new Date(p.hour).getTime() / HOUR) * HOUR;
    if (Number.isFinite(t)) byHour.set(t, p);
  }
  return Array.from({ length: 24 }, (_, i) => {
    const start = current - (23 - i) * HOUR;
    const p = byHour.get(start);
    return { start, processed: p?.processed ?? 0, failed: p?.failed ?? 0 };
  });
}

/**
 * Processed (stacked under failed) messages per hour for the last 24 hours, as inline SVG. The
 * sentence under it says the same for screen readers and anyone who doesn't read charts.
 */
export function HourlyChart({ points, now }: { points: HourlyPoint[]; now: number }): ReactElement {
  const { t, locale } = useI18n();
  const summaryId = useId();
  const buckets = hourlyBuckets(points, now);
  const max = Math.max(1, ...buckets.map((b) => b.processed + b.failed));
  const processed = buckets.reduce((n, b) => n + b.processed, 0);
  const failed = buckets.reduce((n, b) => n + b.failed, 0);
  const busiest = buckets.reduce((best, b) => (b.processed + b.failed > best.processed + best.failed ? b : best), buckets[0]!);
  const scale = (n: number): number => (n === 0 ? 0 : Math.max(2, (n / max) * (HEIGHT - 4)));

  const summary =
    processed + failed === 0
      ? t.health.chartEmpty
      : `${fmt(t.health.chartSummary, { processed: formatNumber(locale, processed), failed: formatNumber(locale, failed) })} ${fmt(
          t.health.chartBusiest,
          { hour: formatHour(locale, new Date(busiest.start)), count: formatNumber(locale, busiest.processed + busiest.failed) },
        )}`;

  return (
    <figure className="m-0 flex flex-col gap-1.5">
      <figcaption className="flex flex-wrap items-baseline justify-between gap-x-3 gap-y-1 text-caption">
        <span className="font-semibold">{t.health.chartTitle}</span>
        <span className="flex gap-3 text-muted-foreground" aria-hidden="true">
          <span className="inline-flex items-center gap-1.5">
            <span className="size-2.5 rounded-[2px] bg-chart-1" />
            {t.health.legendProcessed}
          </span>
          <span className="inline-flex items-center gap-1.5">
            <span className="size-2.5 rounded-[2px] bg-chart-2" />
            {t.health.legendFailed}
          </span>
        </span>
      </figcaption>
      <svg
        className="block h-16 w-full rounded-sm bg-muted"
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
        role="img"
        aria-labelledby={summaryId}
      >
        {buckets.map((b, i) => {
          const hp = scale(b.processed);
          const hf = scale(b.failed);
          const x = i * SLOT + (SLOT - BAR) / 2;
          return (
            <g key={b.start}>
              <title>
                {fmt(t.health.hourLabel, {
                  hour: formatHour(locale, new Date(b.start)),
                  processed: formatNumber(locale, b.processed),
                  failed: formatNumber(locale, b.failed),
                })}
              </title>
              <rect className="fill-transparent hover:fill-primary/5" x={i * SLOT} y={0} width={SLOT} height={HEIGHT} />
              {hp > 0 ? <rect data-series="processed" className="fill-chart-1" x={x} y={HEIGHT - hp} width={BAR} height={hp} rx={1} /> : null}
              {hf > 0 ? <rect data-series="failed" className="fill-chart-2" x={x} y={HEIGHT - hp - hf} width={BAR} height={hf} rx={1} /> : null}
            </g>
          );
        })}
        <line className="stroke-border-strong [vector-effect:non-scaling-stroke]" strokeWidth={1} x1={0} x2={WIDTH} y1={HEIGHT - 0.5} y2={HEIGHT - 0.5} />
      </svg>
      <div className="flex justify-between text-xs text-muted-foreground tabular-nums" aria-hidden="true">
        <span>{formatHour(locale, new Date(buckets[0]!.start))}</span>
        <span>{formatHour(locale, new Date(buckets[12]!.start))}</span>
        <span>{formatHour(locale, new Date(buckets[23]!.start))}</span>
      </div>
      <p id={summaryId} className="text-caption text-muted-foreground">
        {summary}
      </p>
    </figure>
  );
}
