import { createServer, type Server } from "node:http";
import type { Logger } from "pino";
import { closeDb } from "@/lib/db/client";
import { pingDatabase } from "@/lib/db/queries/health";
import { buildApiProviders } from "@/lib/email/api-providers";
import { onTokenRefreshed } from "@/lib/oauth/token-manager";
import { createProvider, type ProviderDeps } from "@/lib/email/create-provider";
import type { Env } from "@/lib/env";
import { closeParsePool, getParsePool } from "@/lib/ingest/parse-pool";
import { DEFAULT_BACKOFF, type BackoffPolicy } from "./backoff";
import { createWatcherMetrics, type WatcherMetrics } from "./metrics";
import { Orchestrator } from "./orchestrator";
import { Semaphore } from "./semaphore";

export type WatcherRuntime = {
  orchestrator: Orchestrator;
  metrics: WatcherMetrics;
  port: number;
  stop: () => Promise<void>;
};

export function backoffFromEnv(env: Env): BackoffPolicy {
  return {
    ...DEFAULT_BACKOFF,
    minMs: env.EMAIL_BACKOFF_MIN_SECONDS * 1000,
    maxMs: env.EMAIL_BACKOFF_MAX_SECONDS * 1000,
  };
}

/** Everything the watcher process runs, separate from signal handling so tests can start it too. */
export async function startWatcherRuntime({
  env,
  log,
  providerDeps = { apiProviders: buildApiProviders({ log }) },
}: {
  env: Env;
  log: Logger;
  providerDeps?: ProviderDeps;
}): Promise<WatcherRuntime> {
  const metrics = createWatcherMetrics();
  onTokenRefreshed(() => metrics.tokenRefreshes.inc());
  const orchestrator = new Orchestrator({
    log,
    // 5 s: a killed replica's mailboxes are claimed by the others within one tick (issue 7).
    reconcileIntervalMs: Number(process.env.WATCHER_RECONCILE_SECONDS ?? 5) * 1000,
    connectionDeps: {
      createProvider: (mailbox) => createProvider(mailbox, providerDeps),
      connectLimiter: new Semaphore(env.EMAIL_CONNECTION_POOL_SIZE),
      backoff: backoffFromEnv(env),
      batchSize: env.EMAIL_FETCH_BATCH_SIZE,
      reconcileMs: env.EMAIL_RECONCILE_SECONDS * 1000,
      pollMs: (mailbox) => mailbox.pollIntervalSeconds * 1000,
      log,
      metrics,
    },
  });
  const server = await startHealthServer({ port: env.WATCHER_PORT, orchestrator, metrics, log });
  // Start the parser threads now, not on the first message: a thread's start-up (~1 s under tsx)
  // would otherwise be added to the first message's arrival-to-stored latency.
  getParsePool();
  await orchestrator.start();
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : env.WATCHER_PORT;
  log.info({ port, mailboxes: orchestrator.connections.size }, "watcher started");
  return {
    orchestrator,
    metrics,
    port,
    stop: async () => {
      await orchestrator.stop();
      await closeParsePool();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closeDb();
    },
  };
}

async function startHealthServer({
  port,
  orchestrator,
  metrics,
  log,
}: {
  port: number;
  orchestrator: Orchestrator;
  metrics: WatcherMetrics;
  log: Logger;
}): Promise<Server> {
  const server = createServer((req, res) => {
    void (async () => {
      if (req.url === "/health") {
        const dbOk = await pingDatabase();
        const ok = dbOk && orchestrator.isReady;
        res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
        res.end(JSON.stringify({ status: ok ? "ok" : "error", db: dbOk ? "ok" : "unreachable", mailboxes: orchestrator.connections.size }));
        return;
      }
      if (req.url === "/metrics") {
        res.writeHead(200, { "content-type": metrics.registry.contentType });
        res.end(await metrics.registry.metrics());
        return;
      }
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "not_found", message: "Not found." } }));
    })().catch((err: unknown) => {
      log.error({ err }, "health server error");
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "0.0.0.0", () => resolve());
  });
  return server;
}
