import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { SMTPServer } from "smtp-server";
import { closeDb } from "@/lib/db/client";
import type { Env } from "@/lib/env";
import { closeParsePool } from "@/lib/ingest/parse-pool";
import { createDnsResolver } from "./dns-resolver";
import { createInboundServer } from "./inbound-server";

export type InboundRuntime = { smtpPort: number; healthPort: number | null; stop: () => Promise<void> };

function listenHttp(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.removeListener("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function listenSmtp(server: SMTPServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.server.once("error", reject);
    server.listen(port, host, () => {
      server.server.removeListener("error", reject);
      resolve((server.server.address() as AddressInfo).port);
    });
  });
}

/** Starts the SMTP listener and its /health endpoint from the validated environment. */
export async function startInboundRuntime({ env, log }: { env: Env; log: Logger }): Promise<InboundRuntime> {
  const tls =
    env.INBOUND_TLS_KEY_FILE && env.INBOUND_TLS_CERT_FILE
      ? { key: readFileSync(env.INBOUND_TLS_KEY_FILE), cert: readFileSync(env.INBOUND_TLS_CERT_FILE) }
      : undefined;
  const smtp = createInboundServer({
    domain: env.INBOUND_DOMAIN,
    ...(env.INBOUND_HOSTNAME ? { serverName: env.INBOUND_HOSTNAME } : {}),
    maxMessageBytes: env.INBOUND_MAX_MESSAGE_BYTES,
    socketTimeoutMs: env.INBOUND_SOCKET_TIMEOUT_SECONDS * 1000,
    maxClients: env.INBOUND_MAX_CLIENTS,
    maxConnectionsPerIp: env.INBOUND_MAX_CONNECTIONS_PER_IP,
    maxMessagesPerMinutePerIp: env.INBOUND_MAX_MESSAGES_PER_MINUTE_PER_IP,
    ...(tls ? { tls } : {}),
    resolver: createDnsResolver({ servers: env.INBOUND_DNS_SERVERS?.split(",").map((s) => s.trim()).filter(Boolean) }),
    log,
  });
  const smtpPort = await listenSmtp(smtp, env.INBOUND_SMTP_PORT, env.INBOUND_BIND_ADDRESS);
  let health: http.Server | null = null;
  let healthPort: number | null = null;
  if (env.INBOUND_HEALTH_PORT > 0) {
    health = http.createServer((req, res) => {
      const ok = req.url === "/health" && smtp.server.listening;
      res.writeHead(ok ? 200 : 404, { "content-type": "application/json" });
      res.end(JSON.stringify(ok ? { status: "ok" } : { error: "not_found" }));
    });
    healthPort = await listenHttp(health, env.INBOUND_HEALTH_PORT, env.INBOUND_HEALTH_BIND_ADDRESS);
  }
  log.info({ event: "inbound_listening", port: smtpPort, domain: env.INBOUND_DOMAIN, starttls: Boolean(tls), health_port: healthPort }, "inbound SMTP listening");
  return {
    smtpPort,
    healthPort,
    stop: async () => {
      // smtp-server's close waits for open sessions (up to closeTimeout): a DATA in progress finishes its commit.
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
      await new Promise<void>((resolve) => (health ? health.close(() => resolve()) : resolve()));
      await closeParsePool().catch(() => {});
      await closeDb().catch(() => {});
    },
  };
}
