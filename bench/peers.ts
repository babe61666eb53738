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

export type BenchMailboxes = {
  /** A tenant of its own and an enabled IMAP booking mailbox (password "pw", no TLS) on host:port. */
  seedImapMailbox: (opts: { name: string; host: string; port: number; username: string; useIdle: boolean; pollIntervalSeconds?: number }) => Promise<{ id: string }>;
  waitForConnected: (mailboxId: string) => Promise<void>;
  /** Resolves once the mailbox has at least `count` stored messages (polled every `everyMs`). */
  waitForMessages: (opts: { mailboxId: string; count: number; everyMs: number }) => Promise<void>;
  closeDb: () => Promise<void>;
};

/**
 * The data-layer calls the IMAP benches share. Loaded only after startBenchDatabase, because the
 * modules read their configuration (lib/env.ts) when they are first imported.
 */
export async function loadBenchMailboxes(): Promise<BenchMailboxes> {
  const { getSecretBox } = await import("@/lib/crypto/secret-box");
  const { createTenant } = await import("@/lib/db/queries/tenants");
  const { saveMailbox, getMailboxById } = await import("@/lib/db/queries/mailboxes");
  const { countMailboxMessages } = await import("@/lib/db/queries/messages");
  const { closeDb } = await import("@/lib/db/client");
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  return {
    seedImapMailbox: async ({ name, host, port, username, useIdle, pollIntervalSeconds }) => {
      const tenant = await createTenant({ name: `Bench ${name}` });
      const row = await saveMailbox({
        tenantId: tenant.id,
        purpose: "booking",
        fields: {
          provider: "imap", access: "imap", host, port, address: `${name}@bench.test`, username, useSsl: false, tlsMode: "none",
          authMethod: "password", passwordEncrypted: getSecretBox().encrypt("pw"), useIdle, folder: "INBOX", enabled: true,
          ...(pollIntervalSeconds !== undefined ? { pollIntervalSeconds } : {}),
        },
      });
      return { id: row.id };
    },
    waitForConnected: async (mailboxId) => {
      while ((await getMailboxById({ mailboxId }))?.status !== "connected") await sleep(20);
    },
    waitForMessages: async ({ mailboxId, count, everyMs }) => {
      while ((await countMailboxMessages({ mailboxId })) < count) await sleep(everyMs);
    },
    closeDb,
  };
}
