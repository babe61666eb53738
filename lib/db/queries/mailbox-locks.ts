import type pg from "pg";
import { getPool } from "@/lib/db/client";
import { serializeQueries } from "./serial-client";

export type LockSession = {
  tryLock: (mailboxId: string) => Promise<boolean>;
  unlock: (mailboxId: string) => Promise<void>;
  close: () => Promise<void>;
};

/**
 * Mailbox ownership across watcher replicas: a session-level advisory lock per mailbox, held on one
 * dedicated connection. If that connection dies, PostgreSQL releases every lock it held, so the
 * owner must stop its mailboxes (onLost) and the other replicas take them over.
 */
export async function openLockSession({ onLost }: { onLost: (err: Error) => void }): Promise<LockSession> {
  const client: pg.PoolClient = await getPool().connect();
  let lost = false;
  // The orchestrator claims and releases several mailboxes at once on this one connection.
  const query = serializeQueries(client);
  // Keys of the locks held, so a mailbox whose row is already deleted can still be released.
  const held = new Map<string, number>();
  client.on("error", (err) => {
    if (lost) return;
    lost = true;
    onLost(err);
  });
  return {
    tryLock: async (mailboxId) => {
      const { rows } = await query<{ ok: boolean; key: number }>(
        "SELECT pg_try_advisory_lock(7230002, lock_key) AS ok, lock_key AS key FROM mailboxes WHERE id = $1",
        [mailboxId],
      );
      const row = rows[0];
      if (row?.ok !== true) return false;
      held.set(mailboxId, row.key);
      return true;
    },
    unlock: async (mailboxId) => {
      const key = held.get(mailboxId);
      if (key === undefined) return;
      held.delete(mailboxId);
      await query("SELECT pg_advisory_unlock(7230002, $1::int)", [key]);
    },
    close: async () => {
      lost = true;
      await query("SELECT pg_advisory_unlock_all()").catch(() => {});
      client.release(true);
    },
  };
}
