import { sql } from "drizzle-orm";
import { getDb } from "@/lib/db/client";
import { sanitizeJson } from "@/lib/ingest/sanitize";
import { mailboxes } from "@/lib/db/schema";
import { insertIngestedMessages, rowsInsert, upgradeTooLargeRows, type BatchCommit, type InsertOutcome } from "./messages";
import { takeCommitGroup, type CommitSize } from "./take-commit-group";
import { listTenantsWithWebhooks } from "./webhooks";

/**
 * Group commit across mailboxes (issue 19). In a burst, hundreds of mailboxes each commit one
 * message and its cursor within a few milliseconds; one statement per mailbox is one round trip,
 * one transaction and one WAL flush each. Here commits that arrive while earlier ones are in flight
 * wait (never longer than those take) and then go together as ONE statement: every mailbox's rows
 * in one INSERT and every cursor in one UPDATE ... FROM (VALUES ...), as data-modifying CTEs, so
 * each mailbox's rows and cursor still commit together, atomically. A lone commit goes at once.
 * If the database refuses the grouped statement, each commit is stored again on its own
 * (insertIngestedMessages, with its row-by-row fallback): one mailbox's bad row never fails another's.
 */
type Waiting = { commit: BatchCommit; resolve: (o: InsertOutcome) => void; reject: (e: unknown) => void };

export type GroupCommitOptions = {
  /** Statements in flight at once (each holds one pooled connection). */
  maxInFlight: number;
  /**
   * Most rows per grouped statement. The columnar INSERT has one parameter per column whatever the
   * count; drizzle's builder, used for rows it cannot say, takes ~22 per row (PostgreSQL allows 65,535).
   */
  maxRows: number;
  /** Most raw bytes per grouped statement. */
  maxBytes: number;
};

const defaults: GroupCommitOptions = { maxInFlight: 2, maxRows: 200, maxBytes: 8 * 1024 * 1024 };

export type GroupCommitStats = { statements: number; commits: number; fallbacks: number };

export function createGroupCommitter(opts: Partial<GroupCommitOptions> = {}): {
  insert: (commit: BatchCommit) => Promise<InsertOutcome>;
  stats: () => GroupCommitStats;
} {
  const o = { ...defaults, ...opts };
  let queue: Waiting[] = [];
  const counters: GroupCommitStats = { statements: 0, commits: 0, fallbacks: 0 };
  let inFlight = 0;
  let scheduled = false;

  const sizeOf = (w: Waiting): CommitSize => ({
    mailboxId: w.commit.mailboxId,
    rows: w.commit.rows.length,
    bytes: w.commit.rows.reduce((n, r) => n + (r.raw?.length ?? 0), 0),
  });
  const take = (): Waiting[] => {
    const { group, rest } = takeCommitGroup(queue, sizeOf, o);
    queue = rest;
    return group;
  };

  const flush = (): void => {
    scheduled = false;
    while (queue.length > 0 && inFlight < o.maxInFlight) {
      const group = take();
      inFlight += 1;
      void runGroup(group).finally(() => {
        inFlight -= 1;
        schedule();
      });
    }
  };

  const schedule = (): void => {
    if (scheduled || queue.length === 0 || inFlight >= o.maxInFlight) return;
    scheduled = true;
    // setImmediate: the commits of this event-loop turn join the same statement.
    setImmediate(flush);
  };

  const runGroup = async (group: Waiting[]): Promise<void> => {
    counters.statements += 1;
    counters.commits += group.length;
    if (group.length === 1) {
      const [w] = group as [Waiting];
      await insertIngestedMessages(w.commit).then(w.resolve, w.reject);
      return;
    }
    // Issue 15: a tenant with a message.received webhook needs its events in the rows' own
    // transaction; those commits take the single path, which writes them. One lookup per group.
    let hooked: Set<string>;
    try {
      hooked = await listTenantsWithWebhooks({
        tenantIds: [...new Set(group.flatMap((w) => w.commit.rows.map((r) => r.tenantId)))],
        type: "message.received",
      });
    } catch (err) {
      for (const w of group) w.reject(err);
      return;
    }
    const solo = group.filter((w) => w.commit.rows.some((r) => hooked.has(r.tenantId)));
    const together = group.filter((w) => !solo.includes(w));
    // The lookup above is the answer for every commit of the group: the single path need not ask again.
    const singles = solo.map((w) => insertIngestedMessages({ ...w.commit, hasWebhooks: true }).then(w.resolve, w.reject));
    if (together.length === 1) {
      const [w] = together as [Waiting];
      singles.push(insertIngestedMessages({ ...w.commit, hasWebhooks: false }).then(w.resolve, w.reject));
    } else if (together.length > 1) {
      let outcomes: InsertOutcome[] | null = null;
      try {
        outcomes = await insertGroup(together.map((w) => w.commit));
      } catch {
        counters.fallbacks += 1;
        singles.push(...together.map((w) => insertIngestedMessages({ ...w.commit, hasWebhooks: false }).then(w.resolve, w.reject)));
      }
      if (outcomes) for (const [i, w] of together.entries()) w.resolve(outcomes[i] as InsertOutcome);
    }
    await Promise.all(singles);
  };

  return {
    insert: (commit) =>
      new Promise<InsertOutcome>((resolve, reject) => {
        queue.push({ commit, resolve, reject });
        schedule();
      }),
    stats: () => ({ ...counters }),
  };
}

/** One statement for several mailboxes' commits; per-commit outcomes in input order. */
async function insertGroup(commits: BatchCommit[]): Promise<InsertOutcome[]> {
  const db = getDb();
  const rows = commits.flatMap((c) => c.rows);
  const updates = commits.filter((c) => (c.cursor && Object.keys(c.cursor).length > 0) || c.recordSync);
  let inserted: { mailbox_id: string; provider_message_id: string }[];
  if (rows.length === 0 && updates.length === 0) return commits.map(() => ({ inserted: 0, refusedProviderIds: [] }));
  const insert = rows.length === 0 ? null : rowsInsert(rows, sql`mailbox_id, provider_message_id`);
  if (updates.length === 0) {
    inserted = insert ? (await db.execute<{ mailbox_id: string; provider_message_id: string }>(insert)).rows : [];
  } else {
    const values = sql.join(
      updates.map((c) => {
        const cursor = c.cursor && Object.keys(c.cursor).length > 0 ? JSON.stringify(sanitizeJson(c.cursor)) : null;
        return sql`(${c.mailboxId}::uuid, ${cursor}::jsonb, ${c.recordSync?.backlog ?? null}::integer, ${c.recordSync ? true : false}::boolean)`;
      }),
      sql`, `,
    );
    // The same effect per mailbox as messages.ts mailboxUpdate: cursor merged, sync recorded.
    const update = sql`UPDATE ${mailboxes} SET
        sync_state = CASE WHEN v.cursor IS NULL THEN ${mailboxes.syncState} ELSE ${mailboxes.syncState} || v.cursor END,
        last_success_at = CASE WHEN v.record THEN now() ELSE ${mailboxes.lastSuccessAt} END,
        backlog = CASE WHEN v.record THEN v.backlog ELSE ${mailboxes.backlog} END
      FROM (VALUES ${values}) AS v(id, cursor, backlog, record)
      WHERE ${mailboxes.id} = v.id`;
    const result =
      insert === null
        ? await db.execute<{ mailbox_id: string; provider_message_id: string }>(sql`WITH upd AS (${update}) SELECT NULL::uuid AS mailbox_id, NULL::text AS provider_message_id WHERE false`)
        : await db.execute<{ mailbox_id: string; provider_message_id: string }>(
            sql`WITH ins AS (${insert}), upd AS (${update}) SELECT mailbox_id, provider_message_id FROM ins`,
          );
    inserted = result.rows;
  }
  const byMailbox = new Map<string, Set<string>>();
  for (const r of inserted) {
    let set = byMailbox.get(r.mailbox_id);
    if (!set) byMailbox.set(r.mailbox_id, (set = new Set()));
    set.add(r.provider_message_id);
  }
  const outcomes: InsertOutcome[] = [];
  for (const c of commits) {
    const ids = byMailbox.get(c.mailboxId) ?? new Set<string>();
    if (ids.size < c.rows.length) await upgradeTooLargeRows(c.rows, ids);
    outcomes.push({ inserted: ids.size, refusedProviderIds: [] });
  }
  return outcomes;
}

let shared: ReturnType<typeof createGroupCommitter> | undefined;

/** The process's group committer: what the ingest path stores through. */
export function insertIngestedMessagesGrouped(commit: BatchCommit): Promise<InsertOutcome> {
  shared ??= createGroupCommitter();
  return shared.insert(commit);
}

export function groupCommitStats(): GroupCommitStats {
  return shared?.stats() ?? { statements: 0, commits: 0, fallbacks: 0 };
}
