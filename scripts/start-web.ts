/**
 * `npm run start:web`: the web container's entrypoint. The database must already be reachable
 * (DATABASE_URL); migrations run first so a new image never serves an old schema.
 */
import { runMigrations } from "@/lib/db/migrate";
import { getEnv } from "@/lib/env";

const env = getEnv();
try {
  await runMigrations(env.DATABASE_URL);
} catch (err) {
  process.stderr.write(`Migrations failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

// In this process (no child to mirror): the server is Next behind our own node:http listener.
const { startWebServer } = await import("./web-server");
const server = await startWebServer({ port: env.PORT });
process.stdout.write(`web listening on port ${env.PORT}\n`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 10_000).unref();
  });
}
