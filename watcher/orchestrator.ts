import type { Logger } from "pino";
import { openLockSession, type LockSession } from "@/lib/db/queries/mailbox-locks";
import {
  getWatchableMailbox,
  listenForMailboxChanges,
  listWatchableMailboxes,
  type MailboxChange,
} from "@/lib/db/queries/mailboxes";
import { requeueStaleProcessing } from "@/lib/db/queries/messages";
import type { Mailbox } from "@/lib/db/schema";
import { processQueuedMessages } from "@/lib/ingest/ingest-messages";
import { MailboxConnection, type ConnectionDeps } from "./mailbox-connection";

export type OrchestratorOptions = {
  connectionDeps: ConnectionDeps;
  /** Full reload from the database: the safety net for a NOTIFY lost while LISTEN reconnected. */
  reconcileIntervalMs: number;
  log: Logger;
};

/**
 * Seed §5.4 TenantEmailOrchestrator: one MailboxConnection per owned mailbox, driven by the
 * database and NOTIFY (add / remove / refresh), with ownership by advisory lock.
 */
export class Orchestrator {
  readonly connections = new Map<string, MailboxConnection>();
  private readonly chains = new Map<string, Promise<void>>();
  private lockSession: LockSession | null = null;
  private listener: { close: () => Promise<void> } | null = null;
  private reconcileTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private queueRunning = false;
  private ready = false;

  constructor(private readonly opts: OrchestratorOptions) {}

  get isReady(): boolean {
    return this.ready && !this.stopping;
  }

  async start(): Promise<void> {
    const requeued = await requeueStaleProcessing();
    if (requeued > 0) this.opts.log.info({ requeued }, "requeued messages left in processing");
    await this.openSessions();
    await this.reconcileAll();
    void this.processQueue();
    this.reconcileTimer = setInterval(() => {
      void this.reconcileAll().catch((err: unknown) => this.opts.log.error({ err }, "reconcile failed"));
    }, this.opts.reconcileIntervalMs);
    this.ready = true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.reconcileTimer);
    await this.listener?.close().catch(() => {});
    await Promise.all([...this.connections.values()].map((c) => c.close()));
    this.connections.clear();
    await this.lockSession?.close().catch(() => {});
  }

  private async openSessions(): Promise<void> {
    this.lockSession = await openLockSession({
      onLost: (err) => {
        this.opts.log.error({ err }, "lock connection lost: releasing all mailboxes");
        void this.recoverSessions();
      },
    });
    this.listener = await listenForMailboxChanges({
      onChange: (change) => this.handleChange(change),
      onError: (err) => {
        this.opts.log.error({ err }, "LISTEN connection lost");
        void this.recoverSessions();
      },
    });
  }

  /** Our locks died with their connection: another replica may own our mailboxes now. */
  private async recoverSessions(): Promise<void> {
    if (this.stopping) return;
    this.ready = false;
    await this.listener?.close().catch(() => {});
    await Promise.all([...this.connections.keys()].map((id) => this.serialize(id, () => this.remove(id, false))));
    this.lockSession = null;
    this.listener = null;
    for (let delay = 1000; !this.stopping; delay = Math.min(delay * 2, 30_000)) {
      try {
        await this.openSessions();
        await this.reconcileAll();
        this.ready = true;
        return;
      } catch (err) {
        this.opts.log.error({ err }, "could not reopen database sessions");
        await new Promise((r) => setTimeout(r, delay));
      }
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
        void this.serialize(change.mailbox_id, () => this.remove(change.mailbox_id, true)).catch(onError);
        break;
      case "tenant":
      case "reload":
        void this.reconcileAll().catch(onError);
        break;
      case "queued":
        void this.processQueue();
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

  async reconcileAll(): Promise<void> {
    if (this.stopping || !this.lockSession) return;
    const rows = await listWatchableMailboxes();
    const wanted = new Map(rows.map((r) => [r.id, r]));
    const work: Promise<void>[] = [];
    for (const id of this.connections.keys()) {
      if (!wanted.has(id)) work.push(this.serialize(id, () => this.remove(id, true)));
    }
    for (const row of rows) work.push(this.serialize(row.id, () => this.apply(row)));
    await Promise.all(work);
    this.updateGauge();
  }

  private async refresh(mailboxId: string): Promise<void> {
    const row = await getWatchableMailbox({ mailboxId });
    if (!row) await this.remove(mailboxId, true);
    else await this.apply(row);
    this.updateGauge();
  }

  private async apply(row: Mailbox): Promise<void> {
    if (this.stopping || !this.lockSession) return;
    const existing = this.connections.get(row.id);
    if (existing) {
      if (existing.mailbox.configVersion !== row.configVersion) {
        this.opts.log.info({ mailbox_id: row.id }, "settings changed: reconnecting");
        await existing.reconnect(row);
      }
      return;
    }
    if (!(await this.lockSession.tryLock(row.id))) return;
    const connection = new MailboxConnection(row, this.opts.connectionDeps);
    this.connections.set(row.id, connection);
    connection.start();
  }

  private async remove(mailboxId: string, unlock: boolean): Promise<void> {
    const connection = this.connections.get(mailboxId);
    if (!connection) return;
    this.connections.delete(mailboxId);
    await connection.close();
    if (unlock) await this.lockSession?.unlock(mailboxId).catch(() => {});
    this.opts.log.info({ mailbox_id: mailboxId }, "mailbox stopped");
    this.updateGauge();
  }

  private async processQueue(): Promise<void> {
    if (this.queueRunning || this.stopping) return;
    this.queueRunning = true;
    try {
      while (!this.stopping && (await processQueuedMessages({ limit: 50 })) > 0) {
        // keep going until the queue is empty
      }
    } catch (err) {
      this.opts.log.error({ err }, "processing queued messages failed");
    } finally {
      this.queueRunning = false;
    }
  }

  private updateGauge(): void {
    const counts = new Map<string, number>();
    for (const c of this.connections.values()) counts.set(c.status, (counts.get(c.status) ?? 0) + 1);
    this.opts.connectionDeps.metrics.mailboxes.reset();
    for (const [state, n] of counts) this.opts.connectionDeps.metrics.mailboxes.set({ state }, n);
  }
}
