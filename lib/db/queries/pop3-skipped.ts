import { and, eq, inArray } from "drizzle-orm";
import { getDb } from "@/lib/db/client";
import { pop3SkippedUids } from "@/lib/db/schema";

/** Keeps each statement well below PostgreSQL's 65535 bind parameters. */
const CHUNK = 5000;

/** Which of these UIDLs the start mode left out for the mailbox (see pop3SkippedUids). */
export async function listSkippedPop3Uids({ mailboxId, ids }: { mailboxId: string; ids: readonly string[] }): Promise<Set<string>> {
  const skipped = new Set<string>();
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += CHUNK) {
    const rows = await getDb()
      .select({ uid: pop3SkippedUids.uid })
      .from(pop3SkippedUids)
      .where(and(eq(pop3SkippedUids.mailboxId, mailboxId), inArray(pop3SkippedUids.uid, unique.slice(i, i + CHUNK))));
    for (const row of rows) skipped.add(row.uid);
  }
  return skipped;
}

/** Records UIDLs the start mode leaves out; idempotent, so a baseline retried after a crash is harmless. */
export async function recordSkippedPop3Uids({ mailboxId, ids }: { mailboxId: string; ids: readonly string[] }): Promise<void> {
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += CHUNK) {
    await getDb()
      .insert(pop3SkippedUids)
      .values(unique.slice(i, i + CHUNK).map((uid) => ({ mailboxId, uid })))
      .onConflictDoNothing();
  }
}
