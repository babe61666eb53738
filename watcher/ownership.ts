/**
 * Replica ownership decisions, pure: how many mailboxes a replica may hold (fair share), which of
 * its claims it gives up first when above it (newest first, so long-held mailboxes stay put), and
 * in which order it tries to claim free ones (random, so replicas don't all race for the same).
 * The orchestrator applies them with the lock and replica sessions.
 */

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

/** Fisher-Yates in place; `random` for tests. */
export function shuffle<T>(items: T[], random: () => number = Math.random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
