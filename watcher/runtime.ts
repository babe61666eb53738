import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { Logger } from "pino";
import { closeDb } from "@/lib/db/client";
import { pingDatabase } from "@/lib/db/queries/health";
import { buildApiProviders } from "@/lib/email/api/api-providers";
import { createOrgTokenSource, isOrgTokenMailbox } from "@/lib/oauth/org-token-source";
import { getAccessToken, onTokenRefreshed } from "@/lib/oauth/token-manager";
import { createProvider, type ProviderDeps } from "@/lib/email/create-provider";
import type { Env } from "@/lib/env";
import { closeParsePool, getParsePool } from "@/lib/ingest/parse-pool";
import { startJobQueue, stopJobQueue } from "@/lib/jobs/job-queue";
import { watcherJobQueues } from "@/lib/jobs/queues";
import { startAlertScanner } from "./alert-scanner";
import { DEFAULT_BACKOFF, type BackoffPolicy } from "./backoff";
import { createWatcherMetrics, type WatcherMetrics } from "./metrics";
import { Orchestrator } from "./orchestrator";
import { AdaptiveConnectGate } from "./connect-gate";

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
    authFailureMs: env.EMAIL_AUTH_RETRY_SECONDS * 1000,
  };
}

/** Everything the watcher process runs, separate from signal handling so tests can start it too. */
export async function startWatcherRuntime({
  env,
  log,
  providerDeps = {},
  metrics = createWatcherMetrics(),
}: {
  env: Env;
  log: Logger;
  providerDeps?: ProviderDeps;
  /** Created by the caller when it counts into them before the runtime is up (process errors). */
  metrics?: WatcherMetrics;
}): Promise<WatcherRuntime> {
  onTokenRefreshed(() => metrics.tokenRefreshes.inc());
  // The composition root: the mail providers get their OAuth tokens from lib/oauth through this
  // injected lookup, and the Gmail/Graph builders only here (the web process never loads them).
  const deps: ProviderDeps = {
    apiProviders: buildApiProviders({ log }),
    tokens: (mailboxId) => (opts) => getAccessToken(mailboxId, opts),
    organisationTokens: (mailbox) => (isOrgTokenMailbox(mailbox) ? createOrgTokenSource(mailbox) : undefined),
    ...providerDeps,
  };
  const orchestrator = new Orchestrator({
    log,
    // 5 s: a killed replica's mailboxes are claimed by the others within one tick (issue 7).
    reconcileIntervalMs: env.WATCHER_RECONCILE_SECONDS * 1000,
    presencePollMs: env.WATCHER_PRESENCE_POLL_MS,
    connectionDeps: {
      createProvider: (mailbox) => createProvider(mailbox, deps),
      connectLimiter: new AdaptiveConnectGate({ initial: env.EMAIL_CONNECTION_POOL_SIZE, max: env.EMAIL_CONNECTION_POOL_MAX }),
      backoff: backoffFromEnv(env),
      batchSize: env.EMAIL_FETCH_BATCH_SIZE,
      batchBytes: env.EMAIL_FETCH_BATCH_BYTES,
      reconcileMs: env.EMAIL_RECONCILE_SECONDS * 1000,
      reconcileWindowMs: env.EMAIL_RECONCILE_WINDOW_HOURS * 3600_000,
      maxMessageBytes: env.EMAIL_MAX_MESSAGE_BYTES,
      pollMs: (mailbox) => mailbox.pollIntervalSeconds * 1000,
      pause: { afterFailures: env.EMAIL_PAUSE_AFTER_AUTH_FAILURES, windowMs: env.EMAIL_PAUSE_WINDOW_SECONDS * 1000 },
      log,
      metrics,
    },
  });
  const server = await startHealthServer({
    port: env.WATCHER_PORT,
    host: env.WATCHER_BIND_ADDRESS,
    metricsToken: env.INTERNAL_API_TOKEN,
    orchestrator,
    metrics,
    log,
  });
  // Start the parser threads now, not on the first message: a thread's start-up (~1 s under tsx)
  // would otherwise be added to the first message's arrival-to-stored latency.
  getParsePool();
  // Background jobs (webhook deliveries, retention, alerts) run in every watcher replica.
  await startJobQueue({ specs: watcherJobQueues(), log });
  await orchestrator.start();
  const alertScanner = startAlertScanner({ env, log });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : env.WATCHER_PORT;
  log.info({ port, mailboxes: orchestrator.connections.size }, "watcher started");
  return {
    orchestrator,
    metrics,
    port,
    stop: async () => {
      await alertScanner.stop();
      await orchestrator.stop();
      await stopJobQueue();
      await closeParsePool();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closeDb();
    },
  };
}

/** Hashing both sides gives equal-length buffers, so the comparison time reveals nothing. */
function hasBearerToken(header: string | undefined, expected: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  const given = createHash("sha256").update(match?.[1] ?? "").digest();
  return match !== null && timingSafeEqual(given, createHash("sha256").update(expected).digest());
}

/**
 * /health stays open (kubelet probes send no token and it reveals only up/down and a count);
 * /metrics carries mailbox counts and error rates, so it takes the internal token like the web's.
 * The server listens on WATCHER_BIND_ADDRESS: loopback by default, the pod IP in deploy/.
 */
async function startHealthServer({
  port,
  host,
  metricsToken,
  orchestrator,
  metrics,
  log,
}: {
  port: number;
  host: string;
  metricsToken: string;
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
        if (!hasBearerToken(req.headers.authorization, metricsToken)) {
          res.writeHead(401, { "content-type": "application/json", "www-authenticate": "Bearer" });
          res.end(JSON.stringify({ error: { code: "unauthorized", message: "A valid internal API token is required." } }));
          return;
        }
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
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // After listen, a server 'error' (e.g. EMFILE on accept) must not become an uncaught exception
  // that restarts ingestion for every tenant: the health endpoint is not worth that.
  server.on("error", (err) => log.error({ event: "health_server_error", err }, "health server error"));
  // A malformed request or a reset socket: answer 400 if possible, never let it throw.
  server.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\n\r\n");
    else socket.destroy();
  });
  return server;
}
