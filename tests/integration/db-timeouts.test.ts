/**
 * Issue 14: a PostgreSQL that accepts connections and then says nothing (a hung server, a frozen
 * network path) must fail a query within DATABASE_CONNECT_TIMEOUT_SECONDS, not stall it forever.
 * The peer is a real TCP listener that never answers; the statement timeout against a real
 * PostgreSQL is in security-web.test.ts (a statement stuck behind a lock).
 */
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { after, before, test } from "node:test";

const held: Socket[] = [];
const silent = createServer((socket) => void held.push(socket));
let port = 0;

before(async () => {
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve()));
  port = (silent.address() as { port: number }).port;
  process.env.DATABASE_URL = `postgres://app:app@127.0.0.1:${port}/mailbox`;
  process.env.DATABASE_CONNECT_TIMEOUT_SECONDS = "1";
});

after(async () => {
  const { closeDb } = await import("@/lib/db/client");
  await closeDb().catch(() => {});
  for (const s of held) s.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});

test("a server that never answers fails the query after the connect timeout", async () => {
  const { getDb } = await import("@/lib/db/client");
  const { sql } = await import("drizzle-orm");
  const started = performance.now();
  await assert.rejects(getDb().execute(sql`SELECT 1`), (err: unknown) => {
    // Drizzle wraps the driver's error; pg's says "timeout exceeded when trying to connect".
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error && /timeout/i.test(cause.message);
  });
  const ms = performance.now() - started;
  console.log(`query against a silent server failed after ${Math.round(ms)} ms (connect timeout 1 s)`);
  assert.ok(held.length >= 1, "the pool did connect to the silent server");
  assert.ok(ms >= 900 && ms < 15_000, `${ms} ms`);
});

test("status changes of one moment against an unreachable database fail together, not one connect timeout each", async () => {
  const { setMailboxStatus } = await import("@/lib/db/queries/mailbox-status");
  const before = held.length;
  const ids = Array.from({ length: 10 }, (_, i) => `00000000-0000-4000-8000-00000000000${i}`);
  const results = await Promise.allSettled(ids.map((mailboxId) => setMailboxStatus({ mailboxId, status: "connected", success: true })));
  assert.deepEqual(
    results.map((r) => r.status),
    ids.map(() => "rejected"),
  );
  // One grouped transaction tried one connection; a fallback change by change would have opened
  // one per change (each waiting out the connect timeout while the next statuses queue).
  assert.equal(held.length - before, 1);
});
