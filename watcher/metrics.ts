import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type WatcherMetrics = {
  registry: Registry;
  connects: Counter;
  reconnects: Counter;
  errors: Counter<"code">;
  ingested: Counter;
  failed: Counter;
  tokenRefreshes: Counter;
  batchSeconds: Histogram;
  mailboxes: Gauge<"state">;
};

export function createWatcherMetrics(): WatcherMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics: WatcherMetrics = {
    registry,
    connects: new Counter({ name: "mailbox_connects_total", help: "Successful mailbox connections", registers: [registry] }),
    reconnects: new Counter({ name: "mailbox_reconnects_total", help: "Scheduled reconnects after a failure", registers: [registry] }),
    errors: new Counter({ name: "mailbox_errors_total", help: "Mailbox connection errors by reason", labelNames: ["code"], registers: [registry] }),
    ingested: new Counter({ name: "messages_ingested_total", help: "Messages stored and processed", registers: [registry] }),
    failed: new Counter({ name: "messages_failed_total", help: "Messages stored as failed (unparseable)", registers: [registry] }),
    tokenRefreshes: new Counter({ name: "oauth_token_refreshes_total", help: "OAuth access token refreshes", registers: [registry] }),
    batchSeconds: new Histogram({
      name: "ingest_batch_seconds",
      help: "Time to fetch, store and mark read one batch",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    mailboxes: new Gauge({ name: "watched_mailboxes", help: "Mailboxes held by this watcher by state", labelNames: ["state"], registers: [registry] }),
  };
  return metrics;
}
