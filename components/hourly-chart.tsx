"use client";

import { useId } from "react";
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
export function HourlyChart({ points, now }: { points: HourlyPoint[]; now: number }) {
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
    <figure className="chart">
      <figcaption className="chart-header">
        <span className="chart-title">{t.health.chartTitle}</span>
        <span className="chart-legend" aria-hidden="true">
          <span className="legend-item">
            <span className="legend-swatch legend-processed" />
            {t.health.legendProcessed}
          </span>
          <span className="legend-item">
            <span className="legend-swatch legend-failed" />
            {t.health.legendFailed}
          </span>
        </span>
      </figcaption>
      <svg
        className="chart-svg"
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
              <rect className="chart-slot" x={i * SLOT} y={0} width={SLOT} height={HEIGHT} />
              {hp > 0 ? <rect className="chart-bar-processed" x={x} y={HEIGHT - hp} width={BAR} height={hp} rx={1} /> : null}
              {hf > 0 ? <rect className="chart-bar-failed" x={x} y={HEIGHT - hp - hf} width={BAR} height={hf} rx={1} /> : null}
            </g>
          );
        })}
        <line className="chart-baseline" x1={0} x2={WIDTH} y1={HEIGHT - 0.5} y2={HEIGHT - 0.5} />
      </svg>
      <div className="chart-axis" aria-hidden="true">
        <span>{formatHour(locale, new Date(buckets[0]!.start))}</span>
        <span>{formatHour(locale, new Date(buckets[12]!.start))}</span>
        <span>{formatHour(locale, new Date(buckets[23]!.start))}</span>
      </div>
      <p id={summaryId} className="chart-summary">
        {summary}
      </p>
    </figure>
  );
}
