import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "pino";
import { listenForMailboxChanges, type MailboxChange } from "@/lib/db/queries/mailbox-changes";
import { getWatchableMailbox } from "@/lib/db/queries/mailboxes";
import {
  getWatchableFingerprint,
  getWatchableMailboxes,
  listFreeWatchableMailboxIds,
  listWatchableMailboxVersions,
  type WatchableFingerprint,
} from "@/lib/db/queries/watcher-replicas";
import type { Mailbox } from "@/lib/db/schema";
import { MailboxConnection, type ConnectionDeps } from "./mailbox-connection";
import { fairShareOf, sameFingerprint } from "./ownership";
import { ReplicaOwnership } from "./replica-ownership";
import { retryUntilStopped } from "./retry-until-stopped";
import { RetryQueue } from "./retry-queue";

export type OrchestratorOptions = {
  connectionDeps: ConnectionDeps;
  /**
   * Full reload from the database: the safety net for a NOTIFY lost while LISTEN reconnected, and
   * the replica heartbeat (a replica is live while its heartbeat is younger than 3 intervals).
   */
  reconcileIntervalMs: number;
  log: Logger;
  /** How often to look for replicas that vanished without a word (default 1000 ms, WATCHER_PRESENCE_POLL_MS). */
  presencePollMs?: number;
  /** Defaults to hostname:pid:random, unique per process start. */
  replicaId?: string;
};

type ReleaseReason = "rebalance" | "shutdown" | "removed" | "lost";

/**
 * Seed §5.4 TenantEmailOrchestrator: one MailboxConnection per owned mailbox, driven by the
 * database and NOTIFY (add / remove / refresh), with ownership by advisory lock (ReplicaOwnership
 * holds the lock and replica sessions; this class decides what to claim and supervises).
 *
 * Several replicas share the mailboxes: each one holds at most its fair share
 * ceil(watchable mailboxes / live replicas). A replica above it (another one joined) releases its
 * newest claims; one below it (another one died or left) claims free mailboxes. Replicas tell each
 * other about joins, graceful leaves and releases by NOTIFY, so they rebalance at once; a SIGKILLed
 * replica's locks vanish with its connection and the others claim its mailboxes on their next
 * reconcile tick.
 */
export class Orchestrator {
  readonly connections = new Map<string, MailboxConnection>();
  readonly replicaId: string;
  private readonly chains = new Map<string, Promise<void>>();
  private readonly ownership: ReplicaOwnership;
  private listener: { close: () => Promise<void> } | null = null;
  private reconcileTimer: NodeJS.Timeout | undefined;
  private reconcileRunning: Promise<void> | null = null;
  private reconcileQueued: Promise<void> | null = null;
  private totalMailboxes = 0;
  /** The watchable set at the last full pass; null forces the next pass to read the full list. */
  private fingerprint: WatchableFingerprint | null = null;
  private stopping = false;
  private recovering = false;
  private ready = false;
  private readonly retryQueue: RetryQueue;

  constructor(private readonly opts: OrchestratorOptions) {
    this.replicaId = opts.replicaId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
    opts.connectionDeps.metrics.mailboxStates = () => [...this.connections.values()].map((c) => c.status);
    this.retryQueue = new RetryQueue({ owner: this.replicaId, log: opts.log, isStopping: () => this.stopping });
    this.ownership = new ReplicaOwnership({
      replicaId: this.replicaId,
      log: opts.log,
      liveWithinMs: 3 * opts.reconcileIntervalMs,
      presencePollMs: opts.presencePollMs ?? 1000,
      onMembershipChange: (reason) => {
        if (this.stopping) return;
        void this.reconcileAll().catch((err: unknown) => opts.log.error({ err, reason }, "reconcile after a replica change failed"));
      },
      onLocksLost: () => void this.recoverSessions(),
    });
  }

  get isReady(): boolean {
    return this.ready && !this.stopping;
  }

  /** Most mailboxes this replica may hold right now. */
  get fairShare(): number {
    return this.shareOf(this.totalMailboxes);
  }

  private shareOf(total: number): number {
    return fairShareOf(total, this.ownership.liveReplicas);
  }

  async start(): Promise<void> {
    await this.openSessions();
    await this.reconcileAll();
    void this.processQueue();
    this.reconcileTimer = setInterval(() => {
      void this.reconcileAll().catch((err: unknown) => this.opts.log.error({ err }, "reconcile failed"));
      // Rows whose lease ran out (a replica died mid-parse) are claimable again: pick them up.
      void this.processQueue();
    }, this.opts.reconcileIntervalMs);
    this.ready = true;
  }

  /**
   * Graceful hand-over (SIGTERM): stop counting as live, tell the others, then close every mailbox
   * (an in-flight batch finishes: stored, then marked read) and release its lock, and tell the
   * others again so they claim what is now free without waiting for their next tick.
   */
  async stop(): Promise<void> {
    const started = performance.now();
    this.stopping = true;
    clearInterval(this.reconcileTimer);
    await this.listener?.close().catch(() => {});
    await this.ownership.leave();
    const ids = [...this.connections.keys()];
    await Promise.all(ids.map((id) => this.serialize(id, () => this.remove(id, true, "shutdown")).catch(() => {})));
    this.connections.clear();
    await this.ownership.close({ released: ids.length > 0 });
    this.opts.log.info(
      { replica_id: this.replicaId, released: ids.length, ms: Math.round(performance.now() - started) },
      "watcher handed its mailboxes over",
    );
  }

  private async openSessions(): Promise<void> {
    this.listener = await listenForMailboxChanges({
      onChange: (change) => this.handleChange(change),
      onError: (err) => {
        this.opts.log.error({ err }, "LISTEN connection lost");
        void this.recoverSessions();
      },
    });
    await this.ownership.start();
  }

  /** Our locks died with their connection: another replica may own our mailboxes now. */
  private async recoverSessions(): Promise<void> {
    if (this.stopping || this.recovering) return;
    this.recovering = true;
    this.ready = false;
    try {
      await this.listener?.close().catch(() => {});
      this.listener = null;
      await this.ownership.abandon();
      await Promise.all(
        [...this.connections.keys()].map((id) => this.serialize(id, () => this.remove(id, false, "lost"))),
      );
      await this.ownership.closeLocks();
      // Changes announced while LISTEN was down are only in the database: read the full list.
      this.fingerprint = null;
      await retryUntilStopped({
        attempt: async () => {
          // A listener left open by a failed attempt would deliver every change twice.
          await this.listener?.close().catch(() => {});
          await this.openSessions();
          await this.reconcileAll();
          this.ready = true;
        },
        shouldStop: () => this.stopping,
        onError: (err) => this.opts.log.error({ err }, "could not reopen database sessions"),
      });
    } finally {
      this.recovering = false;
    }
  }

  handleChange(change: MailboxChange): void {
    if (this.stopping) return;
    const log = this.opts.log;
    const onError = (err: unknown): void => log.error({ err, change }, "applying a mailbox change failed");
    switch (change.op) {
      case "upsert":
        void this.serialize(change.mailbox_id, () => this.refresh(change.mailbox_id)).catch(onError);
        break;
      case "delete":
        void this.serialize(change.mailbox_id, () => this.remove(change.mailbox_id, true, "removed")).catch(onError);
        break;
      case "tenant":
      case "reload":
        this.fingerprint = null;
        void this.reconcileAll().catch(onError);
        break;
      case "queued":
        void this.processQueue();
        break;
      case "push":
        // Every replica hears it; only the owner has the connection.
        this.connections.get(change.mailbox_id)?.notifyChange(change.event);
        break;
    }
  }

  /** Changes to one mailbox apply in order; different mailboxes proceed in parallel. */
  private serialize(mailboxId: string, fn: () => Promise<void>): Promise<void> {
    const previous = this.chains.get(mailboxId) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(fn);
    this.chains.set(mailboxId, next);
    void next.finally(() => {
      if (this.chains.get(mailboxId) === next) this.chains.delete(mailboxId);
    });
    return next;
  }

  /**
   * One reconcile pass at a time: a call while one runs waits for one more pass that starts after
   * it (calls arriving meanwhile share that pass), so a burst of NOTIFYs costs at most two passes
   * and two passes never decide about surplus and claims at the same time.
   */
  reconcileAll(): Promise<void> {
    if (this.reconcileQueued) return this.reconcileQueued;
    if (this.reconcileRunning) {
      const queued = this.reconcileRunning
        .catch(() => {})
        .then(() => {
          this.reconcileQueued = null;
          return this.runReconcile();
        });
      this.reconcileQueued = queued;
      return queued;
    }
    return this.runReconcile();
  }

  private runReconcile(): Promise<void> {
    const run = this.reconcileOnce().finally(() => {
      if (this.reconcileRunning === run) this.reconcileRunning = null;
    });
    this.reconcileRunning = run;
    return run;
  }

  private async reconcileOnce(): Promise<void> {
    if (this.stopping || !this.ownership.canClaim) return;
    const metrics = this.opts.connectionDeps.metrics;
    const live = await this.ownership.heartbeat();
    // The full list is read only when the watchable set changed (a NOTIFY missed while LISTEN
    // reconnected): an idle tick is one heartbeat and one fingerprint row, whatever the mailbox count.
    const fingerprint = await getWatchableFingerprint();
    this.totalMailboxes = fingerprint.count;
    if (!sameFingerprint(this.fingerprint, fingerprint)) {
      await this.reloadHeld();
      this.fingerprint = fingerprint;
    }
    if (this.stopping) return;
    const share = this.fairShare;
    metrics.liveReplicas.set(live);
    metrics.fairShare.set(share);
    if (this.connections.size > share) {
      await this.releaseSurplus(this.connections.size - share);
    } else if (this.connections.size < share) {
      await this.claimFree(share);
    }
  }

  /** Stops held mailboxes that are no longer watchable and reconnects those whose settings changed. */
  private async reloadHeld(): Promise<void> {
    const wanted = new Map((await listWatchableMailboxVersions()).map((v) => [v.id, v.configVersion]));
    const work: Promise<void>[] = [];
    const changed: string[] = [];
    for (const [id, connection] of this.connections) {
      const version = wanted.get(id);
      if (version === undefined) work.push(this.serialize(id, () => this.remove(id, true, "removed")));
      else if (version !== connection.mailbox.configVersion) changed.push(id);
    }
    for (const row of await getWatchableMailboxes(changed)) {
      work.push(this.serialize(row.id, () => this.apply(row, false)));
    }
    await Promise.all(work);
  }

  /** Gives up the newest claims; the others are told so they take them over at once. */
  private async releaseSurplus(count: number): Promise<void> {
    const newest = this.ownership.surplus(this.connections.keys(), count);
    await Promise.all(newest.map((id) => this.serialize(id, () => this.remove(id, true, "rebalance"))));
    this.opts.log.info(
      { released: newest.length, held: this.connections.size, fair_share: this.fairShare, live_replicas: this.ownership.liveReplicas },
      "released mailboxes to rebalance",
    );
    await this.ownership.announceReleased();
  }

  /** Claims mailboxes nobody holds (random order, see listFreeWatchableMailboxIds) up to the share. */
  private async claimFree(share: number): Promise<void> {
    while (this.connections.size < share && !this.stopping) {
      const ids = await listFreeWatchableMailboxIds({ limit: share - this.connections.size });
      if (ids.length === 0) return;
      const before = this.connections.size;
      const rows = await getWatchableMailboxes(ids);
      await Promise.all(rows.map((row) => this.serialize(row.id, () => this.apply(row, true))));
      // Every one taken by a faster replica meanwhile: try again on the next tick, not in a loop.
      if (this.connections.size === before) return;
    }
  }

  private async refresh(mailboxId: string): Promise<void> {
    const row = await getWatchableMailbox({ mailboxId });
    if (!row) {
      await this.remove(mailboxId, true, "removed");
      return;
    }
    // A new mailbox raises the total by one; whoever has room and gets the lock first takes it.
    const total = this.connections.has(mailboxId) ? this.totalMailboxes : this.totalMailboxes + 1;
    await this.apply(row, this.connections.size < this.shareOf(total));
  }

  private async apply(row: Mailbox, mayClaim: boolean): Promise<void> {
    if (this.stopping || !this.ownership.canClaim) return;
    const existing = this.connections.get(row.id);
    if (existing) {
      if (existing.mailbox.configVersion !== row.configVersion) {
        this.opts.log.info({ mailbox_id: row.id, tenant_id: row.tenantId }, "settings changed: reconnecting");
        await existing.reconnect(row);
      }
      return;
    }
    if (!mayClaim || !(await this.ownership.claim(row.id))) return;
    if (this.stopping) {
      await this.ownership.release(row.id, true);
      return;
    }
    const connection = new MailboxConnection(row, this.opts.connectionDeps);
    this.connections.set(row.id, connection);
    this.opts.connectionDeps.metrics.claims.inc();
    connection.start();
  }

  private async remove(mailboxId: string, unlock: boolean, reason: ReleaseReason): Promise<void> {
    const connection = this.connections.get(mailboxId);
    if (!connection) return;
    this.connections.delete(mailboxId);
    // Close first: an in-flight batch is stored and marked read before another replica may start.
    await connection.close({ stopPush: reason === "removed" });
    await this.ownership.release(mailboxId, unlock);
    this.opts.connectionDeps.metrics.releases.inc({ reason });
    this.opts.log.info({ mailbox_id: mailboxId, tenant_id: connection.mailbox.tenantId, reason }, "mailbox stopped");
  }

  private processQueue(): Promise<void> {
    return this.retryQueue.drain();
  }
}
