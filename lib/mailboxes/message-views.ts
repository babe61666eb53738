import { z } from "zod";
import { getMessage, listMessages, requeueFailedMessage, type MessageSummary } from "@/lib/db/queries/messages";
import type { IngestedMessage } from "@/lib/db/schema";
import { AppError, notFound } from "@/lib/errors";
import type { MessageDetail, MessageItem, MessagePage } from "@/lib/api/types";
import { emailTypeSchema } from "@/lib/email/email-type";

export const listMessagesQuerySchema = z.object({
  email_type: emailTypeSchema.optional(),
  status: z.enum(["queued", "processing", "processed", "failed", "too_large"]).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

export const messageIdSchema = z.uuid("Unknown message id.");

function toItem(m: MessageSummary): MessageItem {
  return {
    id: m.id,
    email_type: m.purpose,
    message_id: m.messageId,
    from: m.fromAddress,
    to: m.toAddresses,
    subject: m.subject,
    sent_at: m.sentAt?.toISOString() ?? null,
    received_at: m.receivedAt.toISOString(),
    status: m.status,
    error: m.error,
    processing_ms: m.processingMs,
    size: m.size,
    attachments: m.attachments,
    warnings: m.warnings,
    sender_auth: m.authResults
      ? { spf: m.authResults.spf, dkim: m.authResults.dkim, dmarc: m.authResults.dmarc, arc: m.authResults.arc, dkim_domains: m.authResults.dkimDomains }
      : null,
  };
}

/** Keyset cursor (received_at, id): stable while new mail keeps arriving at the top. */
function encodeCursor(m: MessageSummary): string {
  return Buffer.from(`${m.receivedAt.toISOString()}|${m.id}`).toString("base64url");
}

function decodeCursor(cursor: string): { receivedAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, "base64url").toString().split("|");
  const receivedAt = new Date(at ?? "");
  if (!id || Number.isNaN(receivedAt.getTime()) || !messageIdSchema.safeParse(id).success) {
    throw new AppError(400, "invalid_cursor", "The cursor is not valid.", { fields: { cursor: "Invalid cursor." } });
  }
  return { receivedAt, id };
}

export async function listTenantMessages({
  tenantId,
  query,
}: {
  tenantId: string;
  query: z.infer<typeof listMessagesQuerySchema>;
}): Promise<MessagePage> {
  const rows = await listMessages({
    tenantId,
    limit: query.limit + 1,
    ...(query.email_type ? { purpose: query.email_type } : {}),
    ...(query.status ? { status: query.status } : {}),
    ...(query.cursor ? { cursor: decodeCursor(query.cursor) } : {}),
  });
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  return { items: page.map(toItem), next_cursor: rows.length > query.limit && last ? encodeCursor(last) : null };
}

export async function getTenantMessage({
  tenantId,
  messageId,
}: {
  tenantId: string;
  messageId: string;
}): Promise<IngestedMessage> {
  if (!messageIdSchema.safeParse(messageId).success) throw notFound("The message");
  const row = await getMessage({ tenantId, messageId });
  if (!row) throw notFound("The message");
  return row;
}

export function toMessageDetail(row: IngestedMessage): MessageDetail {
  return { ...toItem(row), text: row.textBody, html: row.htmlBody };
}

export async function retryTenantMessage({ tenantId, messageId }: { tenantId: string; messageId: string }): Promise<void> {
  if (!messageIdSchema.safeParse(messageId).success) throw notFound("The message");
  const result = await requeueFailedMessage({ tenantId, messageId });
  if (result === "not_found") throw notFound("The message");
  if (result === "not_failed") throw new AppError(409, "not_failed", "Only failed messages can be retried.");
}
