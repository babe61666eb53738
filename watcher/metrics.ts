import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type WatcherMetrics = {
  registry: Registry;
  connects: Counter;
  reconnects: Counter;
  errors: Counter<"code">;
  ingested: Counter;
  failed: Counter;
  tokenRefreshes: Counter;
  /** Messages above EMAIL_MAX_MESSAGE_BYTES, stored too_large with their headers. */
  tooLarge: Counter;
  /** Messages the reconcile found stored nowhere although the cursor had passed them (a cursor bug). */
  reconcileGaps: Counter;
  /** Batches whose storing failed (the connection is restarted from the committed cursor). */
  storeFailures: Counter;
  /** After-ingest actions (mark read / move) that failed; the messages stay stored. */
  afterIngestFailures: Counter;
  /** uncaughtException / unhandledRejection reaching the process handlers (watcher/process-errors.ts). */
  processErrors: Counter<"kind">;
  /** Push notifications that reached a mailbox this replica owns, by event. */
  pushNotifications: Counter<"event">;
  batchSeconds: Histogram;
  /** Seconds from the provider's arrival time of a message (IMAP INTERNALDATE) to its commit here. */
  ingestLatency: Histogram;
  /** Mailboxes held by this watcher by loop state; counted at scrape time from mailboxStates. */
  mailboxes: Gauge<"state">;
  /** Open provider connections (loops in state "connected"); counted at scrape time. */
  connectionsOpen: Gauge;
  liveReplicas: Gauge;
  fairShare: Gauge;
  claims: Counter;
  releases: Counter<"reason">;
  /** Set by the orchestrator: the current state of every mailbox loop it holds. */
  mailboxStates: () => Iterable<string>;
};

export function createWatcherMetrics(): WatcherMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics: WatcherMetrics = {
    registry,
    mailboxStates: () => [],
    connects: new Counter({ name: "mailbox_connects_total", help: "Successful mailbox connections", registers: [registry] }),
    reconnects: new Counter({ name: "mailbox_reconnects_total", help: "Scheduled reconnects after a failure", registers: [registry] }),
    errors: new Counter({ name: "mailbox_errors_total", help: "Mailbox connection errors by reason", labelNames: ["code"], registers: [registry] }),
    ingested: new Counter({ name: "messages_ingested_total", help: "Messages stored and processed", registers: [registry] }),
    failed: new Counter({ name: "messages_failed_total", help: "Messages stored as failed (unparseable)", registers: [registry] }),
    tokenRefreshes: new Counter({ name: "oauth_token_refreshes_total", help: "OAuth access token refreshes", registers: [registry] }),
    tooLarge: new Counter({ name: "messages_too_large_total", help: "Messages above the size cap, stored with headers only", registers: [registry] }),
    reconcileGaps: new Counter({
      name: "reconcile_gaps_total",
      help: "Messages the periodic reconcile found missing behind the cursor (each one is a cursor bug)",
      registers: [registry],
    }),
    storeFailures: new Counter({ name: "ingest_store_failures_total", help: "Batches whose storing failed", registers: [registry] }),
    afterIngestFailures: new Counter({
      name: "after_ingest_failures_total",
      help: "After-ingest actions (mark read, move) that failed at the provider",
      registers: [registry],
    }),
    processErrors: new Counter({
      name: "watcher_process_errors_total",
      help: "Uncaught exceptions (the process then restarts) and unhandled rejections (logged, kept running)",
      labelNames: ["kind"],
      registers: [registry],
    }),
    pushNotifications: new Counter({
      name: "push_notifications_total",
      help: "Gmail Pub/Sub and Graph notifications delivered to an owned mailbox, by event",
      labelNames: ["event"],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: "ingest_batch_seconds",
      help: "Time to fetch, store and mark read one batch",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    ingestLatency: new Histogram({
      name: "ingest_latency_seconds",
      help: "From the message's arrival at the provider (INTERNALDATE, 1 s resolution) to its commit",
      buckets: [0.5, 1, 1.5, 2, 3, 5, 10, 30, 60, 300, 1800, 3600],
      registers: [registry],
    }),
    mailboxes: new Gauge({
      name: "watched_mailboxes",
      help: "Mailboxes held by this watcher by state",
      labelNames: ["state"],
      registers: [registry],
      collect() {
        const counts = new Map<string, number>();
        for (const state of metrics.mailboxStates()) counts.set(state, (counts.get(state) ?? 0) + 1);
        this.reset();
        for (const [state, n] of counts) this.set({ state }, n);
      },
    }),
    connectionsOpen: new Gauge({
      name: "watcher_connections_open",
      help: "Open mailbox connections (connected and watching)",
      registers: [registry],
      collect() {
        let n = 0;
        for (const state of metrics.mailboxStates()) if (state === "connected") n += 1;
        this.set(n);
      },
    }),
    liveReplicas: new Gauge({ name: "watcher_live_replicas", help: "Live watcher replicas seen at the last reconcile", registers: [registry] }),
    fairShare: new Gauge({ name: "watcher_fair_share", help: "Most mailboxes this replica may hold: ceil(mailboxes / live replicas)", registers: [registry] }),
    claims: new Counter({ name: "watcher_mailbox_claims_total", help: "Mailboxes this replica took ownership of", registers: [registry] }),
    releases: new Counter({
      name: "watcher_mailbox_releases_total",
      help: "Mailboxes this replica gave up, by reason (rebalance, shutdown, removed, lost)",
      labelNames: ["reason"],
      registers: [registry],
    }),
  };
  return metrics;
}
