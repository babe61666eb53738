/**
 * What to tell a mailbox's admins, and when (issue 15). Pure: the status writer (same transaction
 * as the status) calls observeStatus then evaluateAlert; the alert scan calls evaluateAlert for rows
 * whose dueAt has passed. No timer per mailbox: dueAt is a column the scan finds by index.
 */

/** connecting (between any two tries) and disconnected (disabled by the admin) say nothing new. */
export type Observed = "healthy" | "failing" | "neutral";

export type AlertState = {
  observed: Observed;
  observedCode: string | null;
  failingSince: Date | null;
  healthySince: Date | null;
  /** What the admins were last told. */
  alerted: "ok" | "failing";
  alertedCode: string | null;
  alertedAt: Date | null;
  dueAt: Date | null;
};

export type AlertPolicy = {
  /** Failing this long before the failure alert (not for IMMEDIATE_CODES). */
  graceMs: number;
  /** Healthy this long after a failure alert before the recovery alert: a flap is not a recovery. */
  recoveryMs: number;
  /** A failure alert waits this long after the previous alert of the mailbox. */
  cooldownMs: number;
};

export type AlertToSend = { kind: "failure"; code: string | null } | { kind: "recovery" };

/** No retry will fix these: the admin has to act, so waiting out the grace only loses time. */
export const IMMEDIATE_CODES: ReadonlySet<string> = new Set(["needs_reauth", "paused"]);

export const INITIAL_ALERT_STATE: AlertState = {
  observed: "neutral",
  observedCode: null,
  failingSince: null,
  healthySince: null,
  alerted: "ok",
  alertedCode: null,
  alertedAt: null,
  dueAt: null,
};

export function classifyStatus(status: string): Observed {
  if (status === "connected") return "healthy";
  if (status === "error" || status === "needs_reauth" || status === "paused") return "failing";
  return "neutral";
}

/** When evaluateAlert must run next for this state; null when nothing is pending. */
export function computeDueAt(state: AlertState, policy: AlertPolicy): Date | null {
  if (state.observed === "failing" && state.alerted === "ok" && state.failingSince) {
    const immediate = state.observedCode !== null && IMMEDIATE_CODES.has(state.observedCode);
    let due = state.failingSince.getTime() + (immediate ? 0 : policy.graceMs);
    if (state.alertedAt) due = Math.max(due, state.alertedAt.getTime() + policy.cooldownMs);
    return new Date(due);
  }
  if (state.observed === "healthy" && state.alerted === "failing" && state.healthySince) {
    return new Date(state.healthySince.getTime() + policy.recoveryMs);
  }
  return null;
}

/** Field by field (dates by time): an unchanged state needs no write. */
export function sameAlertState(a: AlertState, b: AlertState): boolean {
  const time = (d: Date | null): number | null => (d ? d.getTime() : null);
  return (
    a.observed === b.observed &&
    a.observedCode === b.observedCode &&
    a.alerted === b.alerted &&
    a.alertedCode === b.alertedCode &&
    time(a.failingSince) === time(b.failingSince) &&
    time(a.healthySince) === time(b.healthySince) &&
    time(a.alertedAt) === time(b.alertedAt) &&
    time(a.dueAt) === time(b.dueAt)
  );
}

/** A status was written: the new state (the clocks restart only when the category changes). */
export function observeStatus(
  state: AlertState,
  change: { status: string; code: string | null; now: Date },
  policy: AlertPolicy,
): AlertState {
  const observed = classifyStatus(change.status);
  if (observed === "neutral") return state;
  let next: AlertState;
  if (observed === "failing") {
    next = {
      ...state,
      observed,
      // The most telling code wins while failing: needs_reauth / paused replace a network error.
      observedCode: change.code,
      failingSince: state.observed === "failing" && state.failingSince ? state.failingSince : change.now,
      healthySince: null,
    };
  } else {
    next = {
      ...state,
      observed,
      observedCode: null,
      failingSince: null,
      healthySince: state.observed === "healthy" && state.healthySince ? state.healthySince : change.now,
    };
  }
  return { ...next, dueAt: computeDueAt(next, policy) };
}

/** Runs at or after dueAt: sends at most one alert and says when to look again. */
export function evaluateAlert(state: AlertState, now: Date, policy: AlertPolicy): { state: AlertState; send: AlertToSend | null } {
  const due = computeDueAt(state, policy);
  if (!due || due.getTime() > now.getTime()) return { state: { ...state, dueAt: due }, send: null };
  if (state.observed === "failing") {
    const next: AlertState = { ...state, alerted: "failing", alertedCode: state.observedCode, alertedAt: now };
    return { state: { ...next, dueAt: computeDueAt(next, policy) }, send: { kind: "failure", code: state.observedCode } };
  }
  const next: AlertState = { ...state, alerted: "ok", alertedCode: null, alertedAt: now };
  return { state: { ...next, dueAt: computeDueAt(next, policy) }, send: { kind: "recovery" } };
}

export type QuietPolicy = { minSamples: number; factor: number; minQuietMs: number };

/**
 * Quiet-mailbox warning: a mailbox with enough history whose silence is well beyond its own usual
 * gaps (the 95th percentile between consecutive messages). Returns the threshold when quiet, else null.
 */
export function quietThresholdMs(
  history: { samples: number; p95GapMs: number | null; lastReceivedAt: Date | null },
  now: Date,
  policy: QuietPolicy,
): number | null {
  if (history.samples < policy.minSamples || history.p95GapMs === null || !history.lastReceivedAt) return null;
  const threshold = Math.max(policy.factor * history.p95GapMs, policy.minQuietMs);
  return now.getTime() - history.lastReceivedAt.getTime() > threshold ? threshold : null;
}
