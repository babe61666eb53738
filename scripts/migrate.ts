/** `npm run migrate`: applies pending migrations once, for deployments that migrate as a separate step. */
import { runMigrations } from "@/lib/db/migrate";
import { getEnv } from "@/lib/env";

try {
  await runMigrations(getEnv().DATABASE_URL);
  process.stdout.write(`${JSON.stringify({ migrated: true })}\n`);
} catch (err) {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${JSON.stringify({ error: { code: "migration_failed", message } })}\n`);
  process.exit(1);
}
