import type { SyncState } from "@/lib/db/schema";

/**
 * The durable part of a Gmail/Graph import queue (issue 13). The ids a first import owes (what the
 * start mode chose at the baseline) exist nowhere at the provider once people read or move mail, so
 * they cannot be found again after a crash: "unread" would miss what was read meanwhile. They are
 * committed with every batch (SyncState.apiBaselineIds), together with the history id / delta link
 * the queue is covered by, and a restart resumes from both.
 */

/**
 * The queue a new connection works off: ids the cursor found past itself first (live mail waits one
 * batch, not the whole import), then what the stored queue still owed, each once, order kept.
 */
export function resumeQueue({ found, owed }: { found: readonly string[]; owed: readonly string[] | null | undefined }): string[] {
  return [...new Set([...found, ...(owed ?? [])])];
}

/**
 * What a batch commits about its queue besides the provider cursor: the ids still to import (null
 * once none are left, so the key is cleared) and, the first time, when the baseline was taken.
 */
export function queueProgress({
  remaining,
  baselineAt,
}: {
  remaining: readonly string[];
  baselineAt?: string | undefined;
}): Pick<SyncState, "apiBaselineIds" | "apiBaselineAt"> {
  return { apiBaselineIds: remaining.length > 0 ? [...remaining] : null, ...(baselineAt ? { apiBaselineAt: baselineAt } : {}) };
}

/**
 * Where the reconcile window starts: never before the baseline. What was there before it is the
 * start mode's choice (unread, since a date, nothing) and travels in the queue; a reconcile looking
 * further back would import the history the admin chose to leave out.
 */
export function reconcileSince({ since, baselineAt }: { since: Date; baselineAt?: string | undefined }): Date {
  const at = baselineAt ? Date.parse(baselineAt) : NaN;
  return Number.isNaN(at) || at <= since.getTime() ? since : new Date(at);
}
