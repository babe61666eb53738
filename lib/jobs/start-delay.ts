/**
 * How long until a job sent with pg-boss's `startAfter` may run: 0 for "now" (no startAfter, a
 * non-positive number of seconds, a past date), else milliseconds. pg-boss reads a number as
 * seconds from now and a Date as the moment itself.
 */
export function startDelayMs({ startAfter, now }: { startAfter: Date | number | undefined; now: number }): number {
  if (startAfter === undefined) return 0;
  if (typeof startAfter === "number") return startAfter > 0 ? startAfter * 1000 : 0;
  return Math.max(0, startAfter.getTime() - now);
}
