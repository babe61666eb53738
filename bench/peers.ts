import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ensureDatabase, startEmbeddedPostgres } from "@/lib/db/embedded-server";
import { runMigrations } from "@/lib/db/migrate";
import { getFreePort } from "@/tests/harness/ports";

/** An embedded PostgreSQL with a migrated database, for benchmarks (DATABASE_URL overrides). */
export async function startBenchDatabase(): Promise<{ url: string; stop: () => Promise<void> }> {
  process.env.APP_ENV ??= "test";
  process.env.MAIL_ALLOW_PRIVATE_HOSTS = "true";
  process.env.ENCRYPTION_KEYS ??= "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
  process.env.SESSION_SECRET ??= "bench-session-secret";
  process.env.INTERNAL_API_TOKEN ??= "bench-internal-token";
  if (process.env.DATABASE_URL) {
    await runMigrations(process.env.DATABASE_URL);
    return { url: process.env.DATABASE_URL, stop: async () => {} };
  }
  const dir = mkdtempSync(path.join(tmpdir(), "mailbox-bench-"));
  chmodSync(dir, 0o755);
  const server = await startEmbeddedPostgres({ dataDir: path.join(dir, "pg"), port: await getFreePort(), persistent: false });
  await ensureDatabase(server.url("postgres"), "bench");
  const url = server.url("bench");
  await runMigrations(url);
  process.env.DATABASE_URL = url;
  process.env.DATA_DIR = path.join(dir, "data");
  return {
    url,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
