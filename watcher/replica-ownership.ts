import type { Logger } from "pino";
import { openLockSession, type LockSession } from "@/lib/db/queries/mailbox-locks";
import { openReplicaSession, type ReplicaEvent, type ReplicaSession } from "@/lib/db/queries/watcher-replicas";
import { ClaimOrder } from "./ownership";
import { retryUntilStopped } from "./retry-until-stopped";

export type ReplicaOwnershipOptions = {
  replicaId: string;
  log: Logger;
  /** A replica is live while its heartbeat is younger than this. */
  liveWithinMs: number;
  /** How often to look for replicas that vanished without a word. */
  presencePollMs: number;
  /** The replica set changed (join, leave, release, or a peer vanished): the owner reconciles. */
  onMembershipChange: (reason: string) => void;
  /** The lock connection died: every claim is gone, the owner must stop its mailboxes and restart. */
  onLocksLost: () => void;
};

/**
 * Replica membership and mailbox ownership: the lock session (one advisory lock per claimed
 * mailbox) and the replica session (presence lock, heartbeats, NOTIFY between replicas). The
 * orchestrator decides what to claim and release; this object does it and keeps the claim order.
 */
export class ReplicaOwnership {
  private lockSession: LockSession | null = null;
  private replica: ReplicaSession | null = null;
  private presenceTimer: NodeJS.Timeout | undefined;
  private presenceSeen = -1;
  private presencePolling = false;
  private closing = false;
  private live = 1;
  /** Claim order: surplus is released newest first, so long-held mailboxes stay where they are. */
  private readonly claimOrder = new ClaimOrder();

  constructor(private readonly opts: ReplicaOwnershipOptions) {}

  /** Live replicas at the last heartbeat, this one included. */
  get liveReplicas(): number {
    return this.live;
  }

  /** True while claims can be made (the lock session is open). */
  get canClaim(): boolean {
    return this.lockSession !== null && !this.closing;
  }

  async start(): Promise<void> {
    this.closing = false;
    // A start that failed halfway (and is retried) must not leave its first lock connection open.
    await this.closeLocks();
    this.lockSession = await openLockSession({
      onLost: (err) => {
        this.opts.log.error({ err }, "lock connection lost: releasing all mailboxes");
        this.opts.onLocksLost();
      },
    });
    await this.openReplica();
    this.presenceSeen = -1;
    this.presenceTimer = setInterval(() => void this.pollPresence(), this.opts.presencePollMs);
  }

  /** Records this replica as alive and returns how many are live; on error keeps the last count. */
  async heartbeat(): Promise<number> {
    if (!this.replica) return this.live;
    try {
      const { live } = await this.replica.heartbeat({ liveWithinMs: this.opts.liveWithinMs });
      if (live !== this.live) this.opts.log.info({ live_replicas: live }, "live watcher replicas changed");
      this.live = live;
    } catch (err) {
      // The replica connection's own error handler reopens it.
      this.opts.log.warn({ err }, "replica heartbeat failed");
    }
    return this.live;
  }

  async claim(mailboxId: string): Promise<boolean> {
    if (!this.lockSession || this.closing) return false;
    if (!(await this.lockSession.tryLock(mailboxId))) return false;
    if (this.closing) {
      await this.lockSession.unlock(mailboxId).catch(() => {});
      return false;
    }
    this.claimOrder.claimed(mailboxId);
    return true;
  }

  /** Forgets the claim; `unlock` false when the lock already died with its connection. */
  async release(mailboxId: string, unlock: boolean): Promise<void> {
    this.claimOrder.released(mailboxId);
    if (unlock) await this.lockSession?.unlock(mailboxId).catch(() => {});
  }

  /** The `count` most recently claimed of `held`. */
  surplus(held: Iterable<string>, count: number): string[] {
    return this.claimOrder.newest(held, count);
  }

  /** Tells the others that mailboxes are free now (they claim them at once). */
  async announceReleased(): Promise<void> {
    await this.replica?.announce("released").catch(() => {});
  }

  /** Graceful leave, first step of a hand-over: stop counting as live and tell the others. */
  async leave(): Promise<void> {
    this.closing = true;
    clearInterval(this.presenceTimer);
    const replica = this.replica;
    if (!replica) return;
    await replica.leave().catch(() => {});
    await replica.announce("left").catch(() => {});
  }

  /** Last step of a hand-over, after every mailbox was released. */
  async close({ released }: { released: boolean }): Promise<void> {
    this.closing = true;
    clearInterval(this.presenceTimer);
    const replica = this.replica;
    this.replica = null;
    if (replica) {
      if (released) await replica.announce("released").catch(() => {});
      await replica.close().catch(() => {});
    }
    await this.lockSession?.close().catch(() => {});
    this.lockSession = null;
  }

  /**
   * The locks are gone: not live while we hold nothing (the others must not leave our share
   * unclaimed); the owner stops its mailboxes with release(id, false) and then start()s again.
   */
  async abandon(): Promise<void> {
    this.closing = true;
    clearInterval(this.presenceTimer);
    const replica = this.replica;
    this.replica = null;
    await replica?.close().catch(() => {});
  }

  /** Closes the dead lock session once the owner stopped its mailboxes. */
  async closeLocks(): Promise<void> {
    await this.lockSession?.close().catch(() => {});
    this.lockSession = null;
  }

  private async openReplica(): Promise<void> {
    const session = await openReplicaSession({
      id: this.opts.replicaId,
      onEvent: (event: ReplicaEvent) => {
        if (this.closing) return;
        this.opts.log.debug({ replica_event: event }, "replica event");
        this.opts.onMembershipChange(`replica ${event.op}`);
      },
      onLost: (err) => {
        if (this.replica !== session) return;
        this.opts.log.error({ err }, "replica connection lost: reopening it");
        this.replica = null;
        void this.reopenReplica();
      },
    });
    this.replica = session;
    await session.announce("joined");
    this.opts.log.info({ replica_id: this.opts.replicaId }, "watcher replica joined");
  }

  /** Only the presence connection died: mailbox locks are intact, keep watching and reconnect it. */
  private async reopenReplica(): Promise<void> {
    await retryUntilStopped({
      attempt: () => this.openReplica(),
      shouldStop: () => this.closing || this.replica !== null,
      onError: (err) => this.opts.log.error({ err }, "could not reopen the replica connection"),
    });
  }

  /** A replica that died without a word (SIGKILL, OOM, node loss) shows as one presence lock fewer. */
  private async pollPresence(): Promise<void> {
    if (this.presencePolling || this.closing || !this.replica) return;
    this.presencePolling = true;
    try {
      const n = await this.replica.presenceCount();
      const changed = this.presenceSeen !== -1 && n !== this.presenceSeen;
      this.presenceSeen = n;
      if (changed) {
        this.opts.log.info({ presence: n }, "watcher replica set changed");
        this.opts.onMembershipChange("presence changed");
      }
    } catch (err) {
      this.opts.log.debug({ err }, "presence poll failed");
    } finally {
      this.presencePolling = false;
    }
  }
}
