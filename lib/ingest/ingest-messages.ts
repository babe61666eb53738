import { claimQueuedMessages, completeMessageProcessing, insertIngestedMessages } from "../db/queries/messages";
import type { Mailbox, NewIngestedMessage } from "../db/schema";
import type { FetchedMessage } from "../email/provider";
import { parseMessage } from "./parse-message";

export type IngestResult = {
  inserted: number;
  failed: number;
  /** Provider ids committed to the database: only these may be marked read. */
  storedProviderIds: string[];
};

/**
 * fetch -> parse -> insert (one statement, ON CONFLICT DO NOTHING) -> commit. The caller marks read
 * only what this returns. A message that fails to parse is stored as failed with its raw source,
 * so one bad message never blocks the mailbox and nothing is lost.
 */
export async function ingestFetchedMessages({
  mailbox,
  messages,
  recordSyncBacklog,
}: {
  mailbox: Pick<Mailbox, "id" | "tenantId" | "purpose">;
  messages: FetchedMessage[];
  /**
   * When set, the same statement records the sync as successful with this backlog (see
   * insertIngestedMessages): the caller knows the batch drained the mailbox.
   */
  recordSyncBacklog?: number;
}): Promise<IngestResult> {
  let failed = 0;
  const rows: NewIngestedMessage[] = await Promise.all(
    messages.map(async (m) => {
      const started = performance.now();
      const parsed = await parseMessage(m.raw);
      const processingMs = Math.max(0, Math.round(performance.now() - started));
      const base = {
        tenantId: mailbox.tenantId,
        mailboxId: mailbox.id,
        purpose: mailbox.purpose,
        providerMessageId: m.providerMessageId,
        raw: m.raw,
        size: m.raw.length,
        attempts: 1,
        processingMs,
        processedAt: new Date(),
      };
      if (!parsed.ok) {
        failed += 1;
        return { ...base, ...parsed.headers, status: "failed" as const, error: parsed.error };
      }
      return { ...base, ...parsed.fields, status: "processed" as const, error: null };
    }),
  );
  const { inserted, storedProviderIds } = await insertIngestedMessages({
    rows,
    ...(recordSyncBacklog !== undefined ? { recordSync: { mailboxId: mailbox.id, backlog: recordSyncBacklog } } : {}),
  });
  return { inserted, failed, storedProviderIds };
}

/** Re-processes rows put back in the queue (retry). Returns how many were handled. */
export async function processQueuedMessages({ limit }: { limit: number }): Promise<number> {
  const claimed = await claimQueuedMessages({ limit });
  for (const row of claimed) {
    const started = performance.now();
    const parsed = await parseMessage(row.raw);
    const processingMs = Math.max(0, Math.round(performance.now() - started));
    await completeMessageProcessing({
      messageId: row.id,
      fields: parsed.ok
        ? { ...parsed.fields, status: "processed", error: null, processingMs }
        : {
            status: "failed",
            error: parsed.error,
            processingMs,
            messageId: row.messageId,
            fromAddress: row.fromAddress,
            toAddresses: row.toAddresses,
            subject: row.subject,
            sentAt: row.sentAt,
            textBody: row.textBody,
            htmlBody: row.htmlBody,
            attachments: row.attachments,
          },
    });
  }
  return claimed.length;
}
