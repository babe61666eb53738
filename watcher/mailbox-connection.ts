import type { Logger } from "pino";
import { recordMailboxEvent } from "@/lib/db/queries/mailbox-events";
import { recordMailboxSync, setMailboxStatus, updateSyncState, type PushEvent } from "@/lib/db/queries/mailboxes";
import type { Mailbox } from "@/lib/db/schema";
import { MailError, type MailProvider } from "@/lib/email/provider";
import { ingestFetchedMessages } from "@/lib/ingest/ingest-messages";
import { computeBackoffMs, nextAttempt, type BackoffPolicy } from "./backoff";
import type { WatcherMetrics } from "./metrics";
import type { Semaphore } from "./semaphore";

export type ConnectionDeps = {
  createProvider: (mailbox: Mailbox) => Promise<MailProvider>;
  connectLimiter: Semaphore;
  backoff: BackoffPolicy;
  batchSize: number;
  reconcileMs: number;
  pollMs: (mailbox: Mailbox) => number;
  log: Logger;
  metrics: WatcherMetrics;
};

/** BRIDGE: bytes of bodies per batch until core's loop brings its own bound. */
const BRIDGE_BATCH_MAX_BYTES = 64 * 1024 * 1024;

type State = "idle" | "connecting" | "connected" | "waiting_retry" | "stopped";

/**
 * One mailbox's long-lived loop: connect, drain the unread backlog, wait for a change, repeat.
 * Every mailbox has exactly one of these and at most one reconnect timer.
 */
export class MailboxConnection {
  private state: State = "idle";
  private provider: MailProvider | null = null;
  private abort = new AbortController();
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Consecutive failed connections; reset once a connection has stayed up (backoff.stableAfterMs). */
  private failures = 0;
  private running: Promise<void> | null = null;
  private readonly log: Logger;

  constructor(
    public mailbox: Mailbox,
    private readonly deps: ConnectionDeps,
  ) {
    this.log = deps.log.child({ mailbox_id: mailbox.id, tenant_id: mailbox.tenantId, purpose: mailbox.purpose });
  }

  get status(): State {
    return this.state;
  }

  private isStopped(): boolean {
    return this.state === "stopped";
  }

  start(): void {
    if (this.state === "stopped" || this.running) return;
    this.abort = new AbortController();
    this.running = this.runOnce().finally(() => {
      this.running = null;
    });
  }

  /**
   * Stops for good: aborts the wait, closes the connection and cancels any pending reconnect.
   * `stopPush` (the mailbox was disabled or removed, not handed to another replica) first ends its
   * Gmail watch / Graph subscription while the connection is still open, for at most 5 s.
   */
  async close(opts: { stopPush?: boolean } = {}): Promise<void> {
    this.state = "stopped";
    clearTimeout(this.reconnectTimer);
    const provider = this.provider;
    if (opts.stopPush && provider?.stopPush) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([provider.stopPush(), new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)))]);
      clearTimeout(timer);
    }
    this.abort.abort();
    await this.provider?.disconnect();
    await this.running;
  }

  /** Applies new settings: drop the connection and connect again at once with a fresh attempt count. */
  async reconnect(mailbox: Mailbox): Promise<void> {
    clearTimeout(this.reconnectTimer);
    this.abort.abort();
    await this.provider?.disconnect();
    await this.running;
    this.mailbox = mailbox;
    this.failures = 0;
    if (this.state === "stopped") return;
    this.state = "idle";
    this.start();
  }

  /**
   * A push notification (Gmail Pub/Sub, Graph subscription) asks for a sync now. Between two
   * connections there is no provider to tell; the next connect syncs anyway.
   */
  notifyChange(event: PushEvent): void {
    this.deps.metrics.pushNotifications.inc({ event });
    this.provider?.notifyChange?.(event);
  }

  private async runOnce(): Promise<void> {
    const signal = this.abort.signal;
    let connectedAt: number | null = null;
    let failure: unknown = null;
    this.state = "connecting";
    const release = await this.deps.connectLimiter.acquire();
    try {
      if (signal.aborted) return;
      await setMailboxStatus({ mailboxId: this.mailbox.id, status: "connecting" });
      const provider = await this.deps.createProvider(this.mailbox);
      this.provider = provider;
      await provider.connect();
      release();
      if (signal.aborted) return;
      connectedAt = Date.now();
      this.state = "connected";
      this.deps.metrics.connects.inc();
      this.log.info({ event: "connected" }, "mailbox connected");
      await setMailboxStatus({ mailboxId: this.mailbox.id, status: "connected", error: null, success: true });
      await recordMailboxEvent({ mailboxId: this.mailbox.id, kind: "connected" });
      await this.watch(provider, signal);
    } catch (err) {
      failure = err;
    } finally {
      release();
      await this.provider?.disconnect();
      this.provider = null;
    }
    if (signal.aborted || this.isStopped()) return;
    await this.handleEnd(failure, connectedAt);
  }

  private async watch(provider: MailProvider, signal: AbortSignal): Promise<void> {
    const timeoutMs = this.mailbox.useIdle || this.mailbox.access !== "imap" ? this.deps.reconcileMs : this.deps.pollMs(this.mailbox);
    while (!signal.aborted) {
      await this.sync(provider, signal);
      const result = await provider.waitForChange({ timeoutMs, signal });
      if (result === "closed") {
        if (!signal.aborted) throw new MailError("network", provider.getHealthStatus().lastError ?? "The server closed the connection.");
        return;
      }
    }
  }

  /**
   * BRIDGE (api worktree, minimal so the API/POP3 watcher tests run; core's loop replaces it):
   * fetchNew until `more` is false, store, commit the cursor, then the after-ingest action on what
   * was committed (never on too-large messages). Until store's ingestFetchedMessages takes the
   * cursor, it is written right after the rows (a crash in between re-reads; knownIds dedupe).
   */
  private async sync(provider: MailProvider, signal: AbortSignal): Promise<void> {
    let stored = 0;
    let syncRecorded = false;
    for (;;) {
      if (signal.aborted) return;
      const started = performance.now();
      const batch = await provider.fetchNew({ maxCount: this.deps.batchSize, maxBytes: BRIDGE_BATCH_MAX_BYTES });
      if (batch.messages.length > 0) {
        const result = await ingestFetchedMessages({
          mailbox: this.mailbox,
          messages: batch.messages,
          ...(!batch.more ? { recordSyncBacklog: 0 } : {}),
        });
        syncRecorded = !batch.more;
        const committedAt = Date.now();
        for (const m of batch.messages) {
          if (m.receivedAt) this.deps.metrics.ingestLatency.observe(Math.max(0, committedAt - m.receivedAt.getTime()) / 1000);
        }
        if (Object.keys(batch.cursor).length > 0) await updateSyncState({ mailboxId: this.mailbox.id, patch: batch.cursor });
        const tooLarge = new Set(batch.messages.filter((m) => m.tooLarge).map((m) => m.providerMessageId));
        await provider.applyAfterIngest(result.storedProviderIds.filter((id) => !tooLarge.has(id)));
        stored += result.inserted;
        this.deps.metrics.ingested.inc(result.inserted - result.failed);
        this.deps.metrics.failed.inc(result.failed);
        this.deps.metrics.batchSeconds.observe((performance.now() - started) / 1000);
      } else if (Object.keys(batch.cursor).length > 0) {
        await updateSyncState({ mailboxId: this.mailbox.id, patch: batch.cursor });
      }
      if (!batch.more) break;
      // More waits: show the admin how much is left.
      await recordMailboxSync({ mailboxId: this.mailbox.id, backlog: batch.backlog ?? 0 });
    }
    if (!syncRecorded) await recordMailboxSync({ mailboxId: this.mailbox.id, backlog: 0 });
    if (stored > 0) this.log.info({ event: "synced", stored }, "messages stored");
  }

  private async handleEnd(failure: unknown, connectedAt: number | null): Promise<void> {
    const error =
      failure instanceof MailError
        ? failure
        : new MailError("unknown", "The mailbox connection failed unexpectedly.", { cause: failure });
    const connectedFor = connectedAt === null ? null : Date.now() - connectedAt;
    this.failures = nextAttempt(this.deps.backoff, this.failures, connectedFor);
    this.deps.metrics.errors.inc({ code: error.code });
    this.log.warn({ event: "connection_error", code: error.code, err: error.options.cause ?? error }, error.message);
    try {
      if (connectedAt !== null) await recordMailboxEvent({ mailboxId: this.mailbox.id, kind: "disconnected" });
      const needsReauth = error.code === "needs_reauth";
      await setMailboxStatus({
        mailboxId: this.mailbox.id,
        status: needsReauth ? "needs_reauth" : "error",
        error: error.message,
      });
      if (!error.options.eventRecorded) {
        await recordMailboxEvent({
          mailboxId: this.mailbox.id,
          kind: error.isAuthFailure ? "auth_failed" : "error",
          message: error.message,
        });
      }
      // A revoked grant cannot heal by retrying; the admin reconnects, which restarts this loop.
      if (needsReauth) {
        this.state = "idle";
        return;
      }
    } catch (dbErr) {
      this.log.error({ err: dbErr }, "could not record mailbox error");
    }
    const delay = computeBackoffMs(this.deps.backoff, this.failures, {
      authFailure: error.code === "auth",
      ...(error.options.retryAfterMs ? { retryAfterMs: error.options.retryAfterMs } : {}),
    });
    this.state = "waiting_retry";
    this.deps.metrics.reconnects.inc();
    this.reconnectTimer = setTimeout(() => {
      if (this.state !== "waiting_retry") return;
      this.start();
    }, delay);
    this.reconnectTimer.unref();
  }
}
