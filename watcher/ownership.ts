/**
 * Replica ownership decisions, pure: how many mailboxes a replica may hold (fair share), which of
 * its claims it gives up first when above it (newest first, so long-held mailboxes stay put), and
 * whether the watchable set changed since the last full reconcile.
 * The orchestrator applies them with the lock and replica sessions (./replica-ownership.ts).
 */
import type { WatchableFingerprint } from "@/lib/db/queries/watcher-replicas";

/** Most mailboxes one replica may hold: ceil(watchable mailboxes / live replicas), at least 1. */
export function fairShareOf(totalMailboxes: number, liveReplicas: number): number {
  return Math.max(1, Math.ceil(totalMailboxes / Math.max(1, liveReplicas)));
}

/** The order this replica claimed its mailboxes in. */
export class ClaimOrder {
  private readonly claimedAt = new Map<string, number>();
  private seq = 0;

  claimed(mailboxId: string): void {
    this.claimedAt.set(mailboxId, ++this.seq);
  }

  released(mailboxId: string): void {
    this.claimedAt.delete(mailboxId);
  }

  /** The `count` most recently claimed of `held`, newest first. */
  newest(held: Iterable<string>, count: number): string[] {
    return [...held].sort((a, b) => (this.claimedAt.get(b) ?? 0) - (this.claimedAt.get(a) ?? 0)).slice(0, Math.max(0, count));
  }
}

/**
 * Whether the watchable set is unchanged since the last full reconcile (`last` null: none yet, so
 * the next pass must read the full list).
 */
export function sameFingerprint(last: WatchableFingerprint | null, now: WatchableFingerprint): boolean {
  return last !== null && last.count === now.count && last.digest === now.digest;
}
