import { and, eq, inArray, sql } from "drizzle-orm";
import type pg from "pg";
import { getDb, getPool } from "@/lib/db/client";
import { mailboxes, tenants, type Mailbox } from "@/lib/db/schema";
import { isWatchable } from "./mailboxes";
import { serializeQueries } from "./serial-client";

/** Must equal the first key of the mailbox advisory locks in ./mailbox-locks.ts. */
export const MAILBOX_LOCK_CLASS = 7230002;
/** Each running replica holds (PRESENCE_LOCK_CLASS, hashtext(replica id)) on its replica connection. */
export const PRESENCE_LOCK_CLASS = 7230003;
export const REPLICA_CHANNEL = "watcher_replicas";
/** Rows of replicas gone for this long are deleted by whoever heartbeats next. */
const PRUNE_AFTER_SECONDS = 3600;

export type ReplicaEvent = { op: "joined" | "left" | "released"; replica_id: string };

export type ReplicaSession = {
  readonly id: string;
  /**
   * Records that this replica is alive and returns how many replicas are live, itself included. A
   * replica is live when its heartbeat is recent AND its presence lock is still held: a SIGKILLed
   * replica's connection dies with it, PostgreSQL frees the lock at once, and the others stop
   * counting it without waiting for its heartbeat to go stale.
   */
  heartbeat: (opts: { liveWithinMs: number }) => Promise<{ live: number }>;
  /**
   * How many presence locks are held right now: a cheap read (no heartbeat write) that a replica
   * polls every second, so a SIGKILLed peer is noticed within a second instead of a reconcile tick.
   */
  presenceCount: () => Promise<number>;
  /** NOTIFY the other replicas (they reconcile at once). */
  announce: (op: ReplicaEvent["op"]) => Promise<void>;
  /** Graceful leave: delete the row and release the presence lock; the connection stays for announce(). */
  leave: () => Promise<void>;
  close: () => Promise<void>;
};

const CURRENT_DB = "(SELECT oid FROM pg_database WHERE datname = current_database())";

/** One dedicated connection: presence lock, heartbeats and LISTEN for the other replicas' events. */
export async function openReplicaSession({
  id,
  onEvent,
  onLost,
}: {
  id: string;
  onEvent: (event: ReplicaEvent) => void;
  onLost: (err: Error) => void;
}): Promise<ReplicaSession> {
  const client: pg.PoolClient = await getPool().connect();
  let closed = false;
  // Heartbeat, presence poll and NOTIFY may overlap.
  const query = serializeQueries(client);
  client.on("error", (err) => {
    if (closed) return;
    closed = true;
    client.release(true);
    onLost(err);
  });
  client.on("notification", (msg) => {
    if (msg.channel !== REPLICA_CHANNEL || !msg.payload) return;
    try {
      const event = JSON.parse(msg.payload) as ReplicaEvent;
      if (event.replica_id !== id) onEvent(event);
    } catch {
      // not ours
    }
  });
  try {
    await client.query("SELECT pg_advisory_lock($1, hashtext($2))", [PRESENCE_LOCK_CLASS, id]);
    await client.query(
      "INSERT INTO watcher_replicas (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()",
      [id],
    );
    await client.query(`LISTEN ${REPLICA_CHANNEL}`);
  } catch (err) {
    closed = true;
    client.release(true);
    throw err;
  }
  const announce = async (op: ReplicaEvent["op"]): Promise<void> => {
    const event: ReplicaEvent = { op, replica_id: id };
    await query("SELECT pg_notify($1, $2)", [REPLICA_CHANNEL, JSON.stringify(event)]);
  };
  return {
    id,
    heartbeat: async ({ liveWithinMs }) => {
      // Data-modifying CTEs run against the statement's snapshot, so our own row is counted as +1.
      const { rows } = await query<{ others: number }>(
        `WITH beat AS (
           INSERT INTO watcher_replicas (id) VALUES ($1)
           ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()
         ), pruned AS (
           DELETE FROM watcher_replicas WHERE id <> $1 AND heartbeat_at < now() - make_interval(secs => $4)
         )
         SELECT count(*)::int AS others
           FROM watcher_replicas r
          WHERE r.id <> $1
            AND r.heartbeat_at > now() - make_interval(secs => $2)
            AND EXISTS (
              SELECT 1 FROM pg_locks l
               WHERE l.locktype = 'advisory' AND l.granted AND l.database = ${CURRENT_DB}
                 AND l.classid = $3 AND l.objsubid = 2 AND l.objid = hashtext(r.id)::oid
            )`,
        [id, liveWithinMs / 1000, PRESENCE_LOCK_CLASS, PRUNE_AFTER_SECONDS],
      );
      return { live: (rows[0]?.others ?? 0) + 1 };
    },
    presenceCount: async () => {
      const { rows } = await query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks l
          WHERE l.locktype = 'advisory' AND l.granted AND l.database = ${CURRENT_DB}
            AND l.classid = $1 AND l.objsubid = 2`,
        [PRESENCE_LOCK_CLASS],
      );
      return rows[0]?.n ?? 0;
    },
    announce,
    leave: async () => {
      await query("DELETE FROM watcher_replicas WHERE id = $1", [id]);
      await query("SELECT pg_advisory_unlock($1, hashtext($2))", [PRESENCE_LOCK_CLASS, id]);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      client.removeAllListeners("notification");
      await query(`UNLISTEN ${REPLICA_CHANNEL}`).catch(() => {});
      // Destroying the connection frees the presence lock even if the queries above failed.
      client.release(true);
    },
  };
}

/**
 * Mailboxes a watcher could claim: watchable and locked by nobody (our own claims are locked too),
 * at most `limit`, in random order so replicas below their share don't all race for the same ones.
 * Only the free ones cross the wire, so an idle replica with every mailbox held costs one pg_locks read.
 */
export async function listFreeWatchableMailboxIds({ limit }: { limit: number }): Promise<string[]> {
  if (limit <= 0) return [];
  const held = sql`SELECT 1 FROM pg_locks l
     WHERE l.locktype = 'advisory' AND l.granted AND l.database = ${sql.raw(CURRENT_DB)}
       AND l.classid = ${MAILBOX_LOCK_CLASS} AND l.objsubid = 2 AND l.objid = ${mailboxes.lockKey}::oid`;
  const rows = await getDb()
    .select({ id: mailboxes.id })
    .from(mailboxes)
    .innerJoin(tenants, eq(tenants.id, mailboxes.tenantId))
    .where(and(isWatchable(), sql`NOT EXISTS (${held})`))
    .orderBy(sql`random()`)
    .limit(limit);
  return rows.map((r) => r.id);
}

export type MailboxVersion = { id: string; configVersion: number };

/**
 * What a watcher should run, as ids and settings versions only (no secrets or sync state): read
 * only when the fingerprint below changed. The filter is isWatchable() of ./mailboxes.ts.
 */
export async function listWatchableMailboxVersions(): Promise<MailboxVersion[]> {
  return getDb()
    .select({ id: mailboxes.id, configVersion: mailboxes.configVersion })
    .from(mailboxes)
    .innerJoin(tenants, eq(tenants.id, mailboxes.tenantId))
    .where(isWatchable());
}

export type WatchableFingerprint = { count: number; digest: string };

/**
 * One row summing up the watchable set: how many, and an order-free digest of every (id, settings
 * version) pair. Adding, deleting, disabling, a tenant deactivated and every settings change (it
 * bumps config_version) change it; status and sync-state writes don't, so an idle watcher reads the
 * full list only when something it runs changed.
 */
export async function getWatchableFingerprint(): Promise<WatchableFingerprint> {
  const [row] = await getDb()
    .select({
      count: sql<number>`count(*)::int`,
      digest: sql<string>`coalesce(sum(hashtext(${mailboxes.id}::text || ':' || ${mailboxes.configVersion})::bigint), 0)::text`,
    })
    .from(mailboxes)
    .innerJoin(tenants, eq(tenants.id, mailboxes.tenantId))
    .where(isWatchable());
  return { count: row?.count ?? 0, digest: row?.digest ?? "0" };
}

/** Full rows of these mailboxes, if still watchable (claims and settings changes). */
export async function getWatchableMailboxes(mailboxIds: string[]): Promise<Mailbox[]> {
  if (mailboxIds.length === 0) return [];
  const rows = await getDb()
    .select({ mailbox: mailboxes })
    .from(mailboxes)
    .innerJoin(tenants, eq(tenants.id, mailboxes.tenantId))
    .where(and(inArray(mailboxes.id, mailboxIds), isWatchable()));
  return rows.map((r) => r.mailbox);
}
