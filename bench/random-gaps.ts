/**
 * Seeded random pauses for bench/latency.ts --gaps (issue 19: "single-mailbox latency vs the floor,
 * random gaps 0.2-20 s"): the same seed gives the same sequence, so the floor and the watcher, and
 * runs on two trees, wait through exactly the same gaps.
 */
import { mulberry32 } from "@/lib/util/seeded-random";

/** "0.2-20" (seconds) -> { minMs: 200, maxMs: 20000 }. */
export function parseGapRange(text: string): { minMs: number; maxMs: number } {
  const match = /^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$/.exec(text);
  if (!match) throw new Error(`--gaps wants MIN-MAX in seconds, e.g. 0.2-20; got "${text}"`);
  const minMs = Math.round(Number(match[1]) * 1000);
  const maxMs = Math.round(Number(match[2]) * 1000);
  if (maxMs < minMs) throw new Error(`--gaps ${text}: MAX is below MIN`);
  return { minMs, maxMs };
}

/** `count` pauses in whole ms, uniform in [minMs, maxMs]. */
export function seededGaps(params: { minMs: number; maxMs: number; seed: number; count: number }): number[] {
  const next = mulberry32(params.seed);
  return Array.from({ length: params.count }, () => Math.round(params.minMs + next() * (params.maxMs - params.minMs)));
}
