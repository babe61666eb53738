import { createHash } from "node:crypto";
import { claimQueuedMessages, completeMessageProcessing, insertIngestedMessages, listStoredContentHashes } from "../db/queries/messages";
import type { Mailbox, NewIngestedMessage, SyncState } from "../db/schema";
import { getEnv } from "../env";
import type { FetchedMessage } from "../email/provider";
import { parseMessage } from "./parse-message";

export type IngestResult = {
  inserted: number;
  failed: number;
  tooLarge: number;
  /** Provider ids committed (new or already there): safe for the after-ingest action. */
  storedProviderIds: string[];
  /** Committed as too_large: NOT for the after-ingest action (left untouched at the provider). */
  tooLargeIds: string[];
};

const MIB = 1024 * 1024;

/**
 * fetch -> parse -> insert (one statement, ON CONFLICT DO NOTHING) + cursor -> commit. The caller
 * applies the after-ingest action only to what this returns. A message that fails to parse is
 * stored as failed with its raw source, so one bad message never blocks the mailbox.
 *
 * core's interim version for issue 13 (cursor in the same transaction, too_large rows); store
 * owns the final one (worker-pool parsing, storable text, per-row fallback, content hash key).
 */
export async function ingestFetchedMessages({
  mailbox,
  messages,
  cursor,
  recordSync,
}: {
  mailbox: Pick<Mailbox, "id" | "tenantId" | "purpose">;
  messages: FetchedMessage[];
  /** Merged into mailboxes.sync_state in the same transaction as the rows. */
  cursor?: Partial<SyncState>;
  /** Also sets last_success_at / backlog in that transaction. */
  recordSync?: { backlog: number };
}): Promise<IngestResult> {
  let failed = 0;
  const tooLargeIds: string[] = [];
  let batch = messages;
  // A re-baseline (UIDVALIDITY change) may meet mail stored before under another id. Interim:
  // store's content_hash unique key replaces this lookup.
  if (batch.length > 0) {
    const hashOf = (m: FetchedMessage): string => createHash("sha256").update(m.raw).digest("hex");
    const known = await listStoredContentHashes({ mailboxId: mailbox.id, hashes: batch.map(hashOf) });
    batch = batch.filter((m) => !known.has(hashOf(m)));
  }
  const rows: NewIngestedMessage[] = await Promise.all(
    batch.map(async (m) => {
      const started = performance.now();
      const parsed = await parseMessage(m.raw);
      const processingMs = Math.max(0, Math.round(performance.now() - started));
      const base = {
        tenantId: mailbox.tenantId,
        mailboxId: mailbox.id,
        purpose: mailbox.purpose,
        providerMessageId: m.providerMessageId,
        raw: m.raw,
        size: m.tooLarge ? m.size : m.raw.length,
        attempts: 1,
        processingMs,
        processedAt: new Date(),
      };
      if (m.tooLarge) {
        tooLargeIds.push(m.providerMessageId);
        const headers = parsed.ok
          ? { messageId: parsed.fields.messageId, fromAddress: parsed.fields.fromAddress, subject: parsed.fields.subject, sentAt: parsed.fields.sentAt }
          : parsed.headers;
        return {
          ...base,
          ...headers,
          status: "too_large" as const,
          error: `The message is ${(m.size / MIB).toFixed(1)} MiB, above the ${(getEnv().EMAIL_MAX_MESSAGE_BYTES / MIB).toFixed(1)} MiB limit: only its headers were stored and it was left at the mail server. Open it in a mail client, or raise EMAIL_MAX_MESSAGE_BYTES.`,
        };
      }
      if (!parsed.ok) {
        failed += 1;
        return { ...base, ...parsed.headers, status: "failed" as const, error: parsed.error };
      }
      return { ...base, ...parsed.fields, status: "processed" as const, error: null };
    }),
  );
  const { inserted } = await insertIngestedMessages({
    rows,
    ...(recordSync ? { recordSync: { mailboxId: mailbox.id, backlog: recordSync.backlog } } : {}),
    ...(cursor ? { syncStatePatch: { mailboxId: mailbox.id, patch: cursor } } : {}),
  });
  const tooLarge = new Set(tooLargeIds);
  return {
    inserted,
    failed,
    tooLarge: tooLargeIds.length,
    // Content already stored under another id counts as stored: it may get its after-ingest action.
    storedProviderIds: messages.map((m) => m.providerMessageId).filter((id) => !tooLarge.has(id)),
    tooLargeIds,
  };
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
