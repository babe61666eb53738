"use client";

import { useEffect, useRef } from "react";

/**
 * Calls `tick` every `intervalMs` while the page is visible, never two at once: the next wait
 * starts when the previous call has finished. A hidden tab stops polling; coming back refreshes
 * at once.
 */
export function useVisiblePolling(tick: () => Promise<unknown>, intervalMs: number, enabled = true): void {
  const tickRef = useRef(tick);
  useEffect(() => {
    tickRef.current = tick;
  }, [tick]);

  useEffect(() => {
    if (!enabled) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    let stopped = false;

    const schedule = (): void => {
      clearTimeout(timer);
      if (stopped || document.visibilityState !== "visible") return;
      timer = setTimeout(run, intervalMs);
    };
    const run = async (): Promise<void> => {
      if (running || stopped) return;
      running = true;
      try {
        await tickRef.current();
      } catch {
        // the tick shows its own errors; polling carries on
      } finally {
        running = false;
        schedule();
      }
    };
    const onVisibility = (): void => {
      if (document.visibilityState === "visible") void run();
      else clearTimeout(timer);
    };

    schedule();
    document.addEventListener("visibilitychange", onVisibility);
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisibility);
    };
  }, [intervalMs, enabled]);
}
