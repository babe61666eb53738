import { and, eq, inArray } from "drizzle-orm";
import { getDb } from "@/lib/db/client";
import { ingestedMessages } from "@/lib/db/schema";

/** Keeps each statement well below PostgreSQL's 65535 bind parameters. */
const CHUNK = 5000;

/**
 * Which of these provider ids are already stored for the mailbox: POP3's cursor (a UIDL with no
 * row is new), the API providers' knownIds and the watcher's reconcile all ask this.
 */
export async function listStoredProviderIds({
  mailboxId,
  ids,
}: {
  mailboxId: string;
  ids: readonly string[];
}): Promise<Set<string>> {
  const stored = new Set<string>();
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += CHUNK) {
    const rows = await getDb()
      .select({ id: ingestedMessages.providerMessageId })
      .from(ingestedMessages)
      .where(
        and(eq(ingestedMessages.mailboxId, mailboxId), inArray(ingestedMessages.providerMessageId, unique.slice(i, i + CHUNK))),
      );
    for (const row of rows) stored.add(row.id);
  }
  return stored;
}
