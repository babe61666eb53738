import { sql } from "drizzle-orm";
import { getDb } from "@/lib/db/client";

/**
 * Empties raw sources received before `before`, in batches (one huge UPDATE would hold locks and
 * bloat WAL for minutes). `raw` stays NOT NULL: a pruned row keeps an empty raw, its `size`, hash
 * and every metadata column, so the 24 h stats, the list and the exactly-once keys are unchanged.
 * Queued/processing rows still need their source and are left alone.
 */
export async function pruneRawSources({ before, batchSize = 1000 }: { before: Date; batchSize?: number }): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await getDb().execute<{ id: string }>(sql`
      UPDATE ingested_messages SET raw = ''::bytea
      WHERE id IN (
        SELECT id FROM ingested_messages
        WHERE received_at < ${before} AND octet_length(raw) > 0 AND status NOT IN ('queued', 'processing')
        LIMIT ${batchSize}
      )
      RETURNING id`);
    total += result.rows.length;
    if (result.rows.length < batchSize) return total;
  }
}

export async function pruneOldMailboxEvents({ before }: { before: Date }): Promise<number> {
  const result = await getDb().execute(sql`DELETE FROM mailbox_events WHERE created_at < ${before}`);
  return result.rowCount ?? 0;
}

export async function pruneOldLoginAttempts({ before }: { before: Date }): Promise<number> {
  const result = await getDb().execute(sql`DELETE FROM login_attempts WHERE attempted_at < ${before}`);
  return result.rowCount ?? 0;
}

/** True when the message's raw source was removed by retention (an empty raw for a non-empty message). */
export function isRawPruned(message: { raw: Buffer; size: number }): boolean {
  return message.raw.length === 0 && message.size > 0;
}
