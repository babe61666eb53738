import assert from "node:assert/strict";
import { waitFor } from "./ports";
import type { WatcherProcess } from "./watcher-process";

/** One mailbox whose backlog a crash test watches: how many rows it has now, and how many it will have. */
export type BacklogProbe = { label: string; stored: () => Promise<number>; total: number };

/**
 * Waits until every mailbox has at least `atLeast` rows, then kills the watcher with SIGKILL (no
 * shutdown hook runs, like an OOM kill or a node failure) and checks that the kill really landed in
 * the middle: some but not all of each backlog stored. Returns the row counts at the kill.
 */
export async function killMidBacklog({
  watcher,
  probes,
  atLeast,
  timeoutMs = 120_000,
}: {
  watcher: WatcherProcess;
  probes: BacklogProbe[];
  atLeast: number;
  timeoutMs?: number;
}): Promise<Map<string, number>> {
  await waitFor(
    async () => {
      for (const p of probes) if ((await p.stored()) < atLeast) return false;
      return true;
    },
    { timeoutMs, what: `at least ${atLeast} rows in every backlog before the kill` },
  );
  // null: ended by the signal, not by an exit of its own.
  assert.equal(await watcher.kill("SIGKILL"), null);
  const atKill = new Map<string, number>();
  for (const p of probes) {
    const n = await p.stored();
    assert.ok(n >= atLeast && n < p.total, `${p.label}: the kill must land mid-backlog (${n} of ${p.total} stored)`);
    atKill.set(p.label, n);
  }
  return atKill;
}

/** Waits until every mailbox has reached its total (more would be a duplicate, checked by the caller). */
export async function waitForBacklogs(probes: BacklogProbe[], timeoutMs = 180_000): Promise<void> {
  for (const p of probes) {
    await waitFor(async () => (await p.stored()) >= p.total, { timeoutMs, what: `all ${p.total} messages of ${p.label}` });
  }
}
