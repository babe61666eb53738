import { createHash } from "node:crypto";
import { insertIngestedMessagesGrouped } from "@/lib/db/queries/message-group-commit";
import { claimQueuedMessages, completeMessageProcessing, renewMessageLeases } from "@/lib/db/queries/messages";
import type { Mailbox, NewIngestedMessage, SenderAuthResults, SyncState } from "@/lib/db/schema";
import type { FetchedMessage } from "@/lib/email/provider";
import { getEnv } from "@/lib/env";
import { mapLimit } from "@/lib/util/map-limit";
import { getParsePool, type ParsePool } from "./parse-pool";
import { sanitizeJson, sanitizeNullableText, sanitizeText } from "./sanitize";

/** What can be stored: a provider's FetchedMessage, or raw source alone (size defaults to its length). */
export type IngestableMessage = Omit<FetchedMessage, "size"> & {
  size?: number;
  /** Sender authentication, for mail received by the inbound SMTP server (issue 16). */
  authResults?: SenderAuthResults;
};

export type IngestResult = {
  inserted: number;
  failed: number;
  tooLarge: number;
  /** Provider ids committed (new or already there): only these may be marked read / moved. */
  storedProviderIds: string[];
  /** Committed as too_large: left untouched at the provider. */
  tooLargeIds: string[];
};

export function hashContent(raw: Buffer, tooLargeSize?: number): string {
  const hash = createHash("sha256").update(raw);
  // A too_large row holds only the header block: its size makes it a different key from the
  // whole message, which may be stored later when the limit is raised.
  if (tooLargeSize !== undefined) hash.update(`\0too_large:${tooLargeSize}`);
  return hash.digest("hex");
}

function formatMb(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return mb >= 10 ? `${Math.round(mb)} MB` : `${Math.round(mb * 10) / 10} MB`;
}

export function describeTooLarge(size: number, limit: number): string {
  return (
    `This message is ${formatMb(size)}, larger than the ${formatMb(limit)} limit; it was left in the mailbox. ` +
    "Raise EMAIL_MAX_MESSAGE_BYTES or handle it by hand."
  );
}

/** A server that announced one size and sent a body above the cap (issue 13). */
export function describeMisannouncedSize(announced: number, observed: number, limit: number): string {
  return (
    `The server announced this message as ${announced < 1024 * 1024 ? `${Math.max(1, Math.round(announced / 1024))} KB` : formatMb(announced)} but then sent ${formatMb(observed)}, ` +
    `larger than the ${formatMb(limit)} limit; it was not downloaded and was left in the mailbox. ` +
    "Check the mail server, or raise EMAIL_MAX_MESSAGE_BYTES and handle it by hand."
  );
}

async function buildRow(
  mailbox: Pick<Mailbox, "id" | "tenantId" | "purpose">,
  m: IngestableMessage,
  pool: ParsePool,
): Promise<NewIngestedMessage> {
  const started = performance.now();
  const base = {
    tenantId: mailbox.tenantId,
    mailboxId: mailbox.id,
    purpose: mailbox.purpose,
    providerMessageId: sanitizeText(m.providerMessageId),
    raw: m.raw,
    attempts: 1,
    processedAt: new Date(),
    ...(m.authResults ? { authResults: m.authResults } : {}),
  };
  const elapsed = (): number => Math.max(0, Math.round(performance.now() - started));
  if (m.tooLarge) {
    const size = m.observedSize ?? m.size ?? m.raw.length;
    const headers = await pool.parseHeaders(m.raw);
    return {
      ...base,
      size,
      contentHash: hashContent(m.raw, size),
      status: "too_large",
      error:
        m.observedSize !== undefined
          ? describeMisannouncedSize(m.size ?? m.raw.length, m.observedSize, getEnv().EMAIL_MAX_MESSAGE_BYTES)
          : describeTooLarge(size, getEnv().EMAIL_MAX_MESSAGE_BYTES),
      messageId: headers?.messageId ?? null,
      fromAddress: headers?.fromAddress ?? null,
      toAddresses: headers?.toAddresses ?? null,
      subject: headers?.subject ?? null,
      sentAt: headers?.sentAt ?? null,
      warnings: headers?.warnings ?? [],
      processingMs: elapsed(),
    };
  }
  const parsed = await pool.parse(m.raw);
  const common = { ...base, size: m.raw.length, contentHash: hashContent(m.raw), warnings: parsed.warnings, processingMs: elapsed() };
  if (!parsed.ok) return { ...common, ...parsed.headers, status: "failed", error: parsed.error };
  return { ...common, ...parsed.fields, status: "processed", error: null };
}

/**
 * Makes every text and jsonb value storable (NUL, lone surrogates). The parser already did it for
 * what it produced; this is the one place every row passes, whatever filled it.
 */
function sanitizeRow(row: NewIngestedMessage): NewIngestedMessage {
  return {
    ...row,
    providerMessageId: sanitizeText(row.providerMessageId),
    messageId: sanitizeNullableText(row.messageId),
    fromAddress: sanitizeNullableText(row.fromAddress),
    toAddresses: sanitizeNullableText(row.toAddresses),
    subject: sanitizeNullableText(row.subject),
    textBody: sanitizeNullableText(row.textBody),
    htmlBody: sanitizeNullableText(row.htmlBody),
    error: sanitizeNullableText(row.error),
    attachments: sanitizeJson(row.attachments ?? []),
    warnings: sanitizeJson(row.warnings ?? []),
  };
}

/**
 * parse (worker threads, at most pool.concurrency at once) -> one statement that stores the rows
 * (ON CONFLICT DO NOTHING on both keys) and the cursor, with a row-by-row fallback -> commit. The
 * caller acts at the provider (mark read / move) only on storedProviderIds, never on tooLargeIds.
 */
export async function ingestFetchedMessages({
  mailbox,
  messages,
  cursor,
  recordSync,
  recordSyncBacklog,
  parsePool,
}: {
  mailbox: Pick<Mailbox, "id" | "tenantId" | "purpose">;
  messages: IngestableMessage[];
  /** Merged into mailboxes.sync_state in the same transaction as the rows. */
  cursor?: Partial<SyncState>;
  /** Also sets last_success_at and backlog in that transaction. */
  recordSync?: { backlog: number };
  /** @deprecated the watcher's old call shape; same as recordSync: { backlog }. */
  recordSyncBacklog?: number;
  /** Tests and benchmarks pass their own; the watcher uses the process's pool. */
  parsePool?: ParsePool;
}): Promise<IngestResult> {
  const pool = parsePool ?? getParsePool();
  const rows = (await mapLimit(messages, pool.concurrency, (m) => buildRow(mailbox, m, pool))).map(sanitizeRow);
  const sync = recordSync ?? (recordSyncBacklog !== undefined ? { backlog: recordSyncBacklog } : undefined);
  // Grouped with other mailboxes' commits of the same moment (one statement in a burst).
  const { inserted, refusedProviderIds } = await insertIngestedMessagesGrouped({
    rows,
    mailboxId: mailbox.id,
    ...(cursor ? { cursor } : {}),
    ...(sync ? { recordSync: sync } : {}),
  });
  const refused = new Set(refusedProviderIds);
  const tooLargeIds: string[] = [];
  const storedProviderIds: string[] = [];
  let failed = 0;
  for (const [i, row] of rows.entries()) {
    const id = messages[i]?.providerMessageId ?? row.providerMessageId;
    if (row.status === "too_large") tooLargeIds.push(id);
    else storedProviderIds.push(id);
    if (row.status === "failed" || refused.has(row.providerMessageId)) failed += 1;
  }
  return { inserted, failed, tooLarge: tooLargeIds.length, storedProviderIds, tooLargeIds };
}

export const QUEUE_LEASE_MS = 5 * 60_000;

/**
 * Re-processes rows put back in the queue (retry), and rows whose lease ran out, under a lease held
 * by `owner` (the watcher replica id) and renewed while it works. Returns how many were claimed.
 */
export async function processQueuedMessages({
  limit,
  owner,
  leaseMs = QUEUE_LEASE_MS,
  parsePool,
}: {
  limit: number;
  owner: string;
  leaseMs?: number;
  parsePool?: ParsePool;
}): Promise<number> {
  const pool = parsePool ?? getParsePool();
  const claimed = await claimQueuedMessages({ owner, limit, leaseMs });
  if (claimed.length === 0) return 0;
  const pending = new Set(claimed.map((r) => r.id));
  const renew = setInterval(() => {
    void renewMessageLeases({ owner, messageIds: [...pending], leaseMs }).catch(() => {});
  }, Math.max(1000, Math.floor(leaseMs / 3)));
  try {
    await mapLimit(claimed, pool.concurrency, async (row) => {
      const started = performance.now();
      const parsed = await pool.parse(row.raw);
      const processingMs = Math.max(0, Math.round(performance.now() - started));
      const fields = parsed.ok
        ? { ...parsed.fields, status: "processed" as const, error: null, processingMs, warnings: parsed.warnings }
        : {
            status: "failed" as const,
            error: parsed.error,
            processingMs,
            warnings: parsed.warnings,
            messageId: row.messageId,
            fromAddress: row.fromAddress,
            toAddresses: row.toAddresses,
            subject: row.subject,
            sentAt: row.sentAt,
            textBody: row.textBody,
            htmlBody: row.htmlBody,
            attachments: row.attachments,
          };
      const { warnings, attachments, ...rest } = fields;
      await completeMessageProcessing({
        messageId: row.id,
        owner,
        fields: { ...rest, attachments: sanitizeJson(attachments), warnings: sanitizeJson(warnings) },
      });
      pending.delete(row.id);
    });
  } finally {
    clearInterval(renew);
  }
  return claimed.length;
}
