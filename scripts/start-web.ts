/**
 * `npm run start:web`: the web container's entrypoint. The database must already be reachable
 * (DATABASE_URL); migrations run first so a new image never serves an old schema.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runMigrations } from "@/lib/db/migrate";
import { getEnv } from "@/lib/env";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const nextBin = createRequire(import.meta.url).resolve("next/dist/bin/next");

const env = getEnv();
try {
  await runMigrations(env.DATABASE_URL);
} catch (err) {
  process.stderr.write(`Migrations failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

// Node has no exec(): run next as the only child, hand it the terminal, and mirror its fate.
const child = spawn(process.execPath, [nextBin, "start", "-p", String(env.PORT)], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, SERVICE_NAME: process.env.SERVICE_NAME ?? "web" },
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
