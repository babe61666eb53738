import type { Logger } from "pino";
import { countAuthFailures } from "@/lib/db/queries/mailbox-alerts";
import { recordMailboxEvent } from "@/lib/db/queries/mailbox-events";
import { recordMailboxSync } from "@/lib/db/queries/mailboxes";
import { setMailboxStatus } from "@/lib/db/queries/mailbox-status";
import { countTooLargeMessages } from "@/lib/db/queries/messages";
import { listStoredProviderIds } from "@/lib/db/queries/stored-provider-ids";
import type { Mailbox } from "@/lib/db/schema";
import { MailError, type FetchBatch, type FetchedMessage, type MailProvider, type PushEvent } from "@/lib/email/provider";
import { ingestFetchedMessages } from "@/lib/ingest/ingest-messages";
import { computeBackoffMs, nextAttempt, type BackoffPolicy } from "./backoff";
import type { WatcherMetrics } from "./metrics";
import type { Semaphore } from "./semaphore";

export type ConnectionDeps = {
  createProvider: (mailbox: Mailbox) => Promise<MailProvider>;
  /** Semaphore or AdaptiveConnectGate (connect-gate.ts): only acquire() is used. */
  connectLimiter: Pick<Semaphore, "acquire">;
  backoff: BackoffPolicy;
  batchSize: number;
  /** Bodies buffered per batch (EMAIL_FETCH_BATCH_BYTES). */
  batchBytes: number;
  /** Safety sync + reconcile period (EMAIL_RECONCILE_SECONDS). */
  reconcileMs: number;
  /** How far back the reconcile compares the provider with what is stored. */
  reconcileWindowMs: number;
  /** EMAIL_MAX_MESSAGE_BYTES, for the admin's message about a too-large one. */
  maxMessageBytes: number;
  pollMs: (mailbox: Mailbox) => number;
  /** Issue 15: pause after this many sign-in failures within windowMs (0 = never pause). */
  pause?: { afterFailures: number; windowMs: number };
  log: Logger;
  metrics: WatcherMetrics;
};

type State = "idle" | "connecting" | "connected" | "waiting_retry" | "stopped";

/** A connect that has not finished after this long is shown as "connecting" (noteConnectingLater). */
const CONNECTING_NOTE_MS = 2000;

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
  /** The cursor (JSON) last committed by this connection: an unchanged one is not written again. */
  private committedCursor: string | null = null;
  private lastReconcileAt = 0;
  /** What last_error says while connected (a too-large message held at the provider), or null. */
  private healthNote: string | null = null;
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
    // Paused after repeated sign-in failures: only new settings or "Try again" (a new row) resume it.
    if (this.mailbox.status === "paused") return;
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
    const connecting = this.noteConnectingLater();
    try {
      if (signal.aborted) return;
      const provider = await this.deps.createProvider(this.mailbox);
      this.provider = provider;
      await provider.connect();
      release();
      await connecting.settle();
      if (signal.aborted) return;
      connectedAt = Date.now();
      this.state = "connected";
      this.deps.metrics.connects.inc();
      this.log.info({ event: "connected" }, "mailbox connected");
      this.committedCursor = null;
      this.lastReconcileAt = Date.now();
      this.healthNote = await this.describeHeldMessages();
      await setMailboxStatus({
        mailboxId: this.mailbox.id,
        status: "connected",
        ...this.healthNoteFields(),
        success: true,
        events: [{ kind: "connected" }],
      });
      await this.watch(provider, signal);
    } catch (err) {
      failure = err;
    } finally {
      release();
      await connecting.settle();
      await this.provider?.disconnect();
      this.provider = null;
    }
    if (signal.aborted || this.isStopped()) return;
    await this.handleEnd(failure, connectedAt);
  }

  /**
   * "connecting" is written only when a connect takes longer than CONNECTING_NOTE_MS. Most connects
   * finish well within it, and at start-up every mailbox would otherwise write a status that lasts
   * a fraction of a second (a transaction per mailbox inside its connect slot, measured as the
   * larger part of the watcher's CPU while 2,000 mailboxes connect). A connect that hangs (a slow
   * or silent server) still shows "connecting" after that time, and the later status write waits
   * for this one, so the order of statuses is kept.
   */
  private noteConnectingLater(): { settle: () => Promise<void> } {
    let write: Promise<void> | null = null;
    const timer = setTimeout(() => {
      write = setMailboxStatus({ mailboxId: this.mailbox.id, status: "connecting" }).catch((err: unknown) => {
        this.log.warn({ err }, "could not record the connecting status");
      });
    }, CONNECTING_NOTE_MS);
    timer.unref();
    return {
      settle: async () => {
        clearTimeout(timer);
        await write;
      },
    };
  }

  private async watch(provider: MailProvider, signal: AbortSignal): Promise<void> {
    const timeoutMs = this.mailbox.useIdle || this.mailbox.access !== "imap" ? this.deps.reconcileMs : this.deps.pollMs(this.mailbox);
    while (!signal.aborted) {
      await this.sync(provider, signal);
      if (Date.now() - this.lastReconcileAt >= this.deps.reconcileMs && !signal.aborted) {
        this.lastReconcileAt = Date.now();
        await this.reconcile(provider);
      }
      const result = await provider.waitForChange({ timeoutMs, signal });
      if (result === "closed") {
        if (!signal.aborted) throw new MailError("network", provider.getHealthStatus().lastError ?? "The server closed the connection.");
        return;
      }
    }
  }

  /**
   * Drains everything past the cursor in bounded batches. Each batch's rows and the cursor after
   * them commit in one transaction; only then does the after-ingest action run, so a crash at any
   * point re-fetches at most one batch and stores nothing twice.
   */
  private async sync(provider: MailProvider, signal: AbortSignal): Promise<void> {
    let stored = 0;
    let syncRecorded = false;
    for (;;) {
      if (signal.aborted) return;
      const started = performance.now();
      const batch = await provider.fetchNew({ maxCount: this.deps.batchSize, maxBytes: this.deps.batchBytes });
      const cursorJson = JSON.stringify(batch.cursor);
      const cursorMoved = cursorJson !== "{}" && cursorJson !== this.committedCursor;
      if (batch.messages.length === 0 && !cursorMoved) break;
      const result = await this.store(batch.messages, batch.cursor, { backlog: batch.more ? (batch.backlog ?? 0) : 0 });
      this.committedCursor = cursorJson;
      syncRecorded = true;
      stored += result.inserted;
      await this.afterIngest(provider, result.storedProviderIds);
      this.deps.metrics.batchSeconds.observe((performance.now() - started) / 1000);
      if (!batch.more) break;
    }
    if (!syncRecorded) await recordMailboxSync({ mailboxId: this.mailbox.id, backlog: 0 });
    if (stored > 0) this.log.info({ event: "synced", stored }, "messages stored");
  }

  /**
   * Stores one batch (rows + cursor in one transaction). A failure leaves nothing committed and the
   * provider's in-memory cursor ahead of the database, so the connection ends and the next one
   * starts again from the committed cursor; status and last error say what is wrong meanwhile.
   */
  private async store(
    messages: FetchedMessage[],
    cursor: FetchBatch["cursor"] | undefined,
    recordSync: { backlog: number },
  ): Promise<{ inserted: number; storedProviderIds: string[] }> {
    let result;
    try {
      result = await ingestFetchedMessages({ mailbox: this.mailbox, messages, ...(cursor ? { cursor } : {}), recordSync });
    } catch (err) {
      this.deps.metrics.storeFailures.inc();
      throw new MailError(
        "storage",
        `Storing ${messages.length} new message(s) failed in the database, so none of them was stored; the watcher keeps retrying. If this lasts, check the database and the watcher logs (event store_failed).`,
        { cause: err },
      );
    }
    const committedAt = Date.now();
    for (const m of messages) {
      if (m.receivedAt && !m.tooLarge) this.deps.metrics.ingestLatency.observe(Math.max(0, committedAt - m.receivedAt.getTime()) / 1000);
    }
    this.deps.metrics.ingested.inc(Math.max(0, result.inserted - result.failed - result.tooLarge));
    this.deps.metrics.failed.inc(result.failed);
    if (result.tooLarge > 0) {
      this.deps.metrics.tooLarge.inc(result.tooLarge);
      this.log.warn({ event: "too_large", count: result.tooLarge, ids: result.tooLargeIds }, "messages above the size cap stored with headers only");
      this.healthNote = await this.describeHeldMessages();
      await setMailboxStatus({ mailboxId: this.mailbox.id, status: "connected", ...this.healthNoteFields() });
    }
    const tooLarge = new Set(result.tooLargeIds);
    return { inserted: result.inserted, storedProviderIds: result.storedProviderIds.filter((id) => !tooLarge.has(id)) };
  }

  /** After commit only; a failure here loses nothing (the mail is stored), so it is logged, not fatal. */
  private async afterIngest(provider: MailProvider, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    try {
      await provider.applyAfterIngest(ids);
    } catch (err) {
      this.deps.metrics.afterIngestFailures.inc();
      const message = err instanceof MailError ? err.message : "The after-ingest action failed at the mail server.";
      this.log.warn({ event: "after_ingest_failed", count: ids.length, err }, message);
      if (!provider.isConnected) throw err;
      await recordMailboxEvent({ mailboxId: this.mailbox.id, kind: "error", message }).catch(() => {});
    }
  }

  /**
   * Compares what the provider holds in a recent window with what is stored, and fetches any gap
   * (without moving the cursor). A gap means the cursor handling lost a message: it is logged as
   * reconcile_gap and counted, so the bug is seen, and the message is stored anyway.
   */
  private async reconcile(provider: MailProvider): Promise<void> {
    const ids = await provider.listRecent({ since: new Date(Date.now() - this.deps.reconcileWindowMs), limit: 5000 });
    if (ids.length === 0) return;
    const known = await listStoredProviderIds({ mailboxId: this.mailbox.id, ids });
    const gaps = ids.filter((id) => !known.has(id));
    if (gaps.length === 0) return;
    this.deps.metrics.reconcileGaps.inc(gaps.length);
    this.log.warn({ event: "reconcile_gap", count: gaps.length, ids: gaps.slice(0, 20) }, "reconcile found messages the cursor had passed unstored");
    for (let i = 0; i < gaps.length; i += this.deps.batchSize) {
      const messages = await provider.fetchByIds(gaps.slice(i, i + this.deps.batchSize), { maxBytes: this.deps.batchBytes });
      if (messages.length === 0) continue;
      const result = await this.store(messages, undefined, { backlog: 0 });
      await this.afterIngest(provider, result.storedProviderIds);
    }
  }

  private healthNoteFields(): { error: string | null; errorCode: "too_large_held" | null } {
    return { error: this.healthNote, errorCode: this.healthNote ? "too_large_held" : null };
  }

  /** The admin's note while too-large messages wait at the provider (last 7 days), or null. */
  private async describeHeldMessages(): Promise<string | null> {
    const n = await countTooLargeMessages({ mailboxId: this.mailbox.id, since: new Date(Date.now() - 7 * 24 * 3600_000) });
    if (n === 0) return null;
    const cap = (this.deps.maxMessageBytes / (1024 * 1024)).toFixed(0);
    return `${n} message(s) larger than ${cap} MiB were not fetched: only their headers were stored (status "too large") and they were left at the mail server. Open them in a mail client, or ask the operator to raise EMAIL_MAX_MESSAGE_BYTES.`;
  }

  /**
   * Issue 15: after `afterFailures` rejected sign-ins within the window (counted since the last
   * settings save or "Try again"), stop trying so the provider does not lock the account.
   */
  private async pauseIfSignInKeepsFailing(): Promise<boolean> {
    const pause = this.deps.pause;
    if (!pause || pause.afterFailures <= 0) return false;
    const since = new Date(Math.max(Date.now() - pause.windowMs, this.mailbox.updatedAt.getTime()));
    const failures = await countAuthFailures({ mailboxId: this.mailbox.id, since });
    if (failures < pause.afterFailures) return false;
    const hours = Math.round((pause.windowMs / 3600_000) * 10) / 10;
    await setMailboxStatus({
      mailboxId: this.mailbox.id,
      status: "paused",
      errorCode: "paused",
      error: `Sign-in failed ${failures} times within ${hours} h, so the watcher stopped trying to avoid locking the account. Check the username and password, then save the settings or press Try again.`,
    });
    this.log.warn({ event: "mailbox_paused", failures }, "mailbox paused after repeated sign-in failures");
    this.state = "idle";
    return true;
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
      const needsReauth = error.code === "needs_reauth";
      await setMailboxStatus({
        mailboxId: this.mailbox.id,
        status: needsReauth ? "needs_reauth" : "error",
        error: error.message,
        errorCode: error.code,
        events: [
          ...(connectedAt !== null ? [{ kind: "disconnected" as const }] : []),
          { kind: error.isAuthFailure ? "auth_failed" : "error", message: error.options.eventMessage ?? error.message },
        ],
      });
      if (error.code === "auth" && (await this.pauseIfSignInKeepsFailing())) return;
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
      ...(error.options.retryNow ? { retryNow: true } : {}),
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
