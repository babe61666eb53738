/**
 * The web server: Next.js behind a plain node:http server of our own, for one reason: route
 * handlers get no socket, and Next replaces a missing X-Forwarded-For with the peer address but keeps
 * a client's own, so without this the TCP peer is unknowable to the login rate limit. Every request
 * gets PEER_ADDRESS_HEADER set from its socket (a client's value is overwritten, never trusted).
 *
 * `node --import tsx scripts/web-server.ts [-H address]` (port: PORT) runs it; scripts/start-web.ts migrates
 * first and then calls startWebServer().
 */
import { createServer, type Server } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getEnv } from "@/lib/env";
import { PEER_ADDRESS_HEADER } from "@/lib/http/peer-address";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export async function startWebServer(opts: { port: number; hostname?: string }): Promise<Server> {
  // Next picks its production React build from NODE_ENV, read when it is first imported.
  (process.env as Record<string, string>).NODE_ENV ??= "production";
  const { default: next } = await import("next");
  const app = next({ dev: false, dir: root, port: opts.port, hostname: opts.hostname ?? "0.0.0.0" });
  const handle = app.getRequestHandler();
  await app.prepare();
  const server = createServer((req, res) => {
    req.headers[PEER_ADDRESS_HEADER] = req.socket.remoteAddress ?? "unknown";
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.hostname ?? "0.0.0.0", () => resolve());
  });
  return server;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = getEnv().PORT;
  const flag = process.argv.findIndex((a) => a === "-H" || a === "--hostname");
  const hostname = (flag >= 0 ? process.argv[flag + 1] : undefined) ?? "0.0.0.0";
  const server = await startWebServer({ port, hostname });
  process.stdout.write(`web listening on http://${hostname}:${port}\n`);
  // Stop accepting, let in-flight requests finish (the pod's grace period bounds this).
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      server.close(() => process.exit(0));
      setTimeout(() => process.exit(0), 10_000).unref();
    });
  }
}
