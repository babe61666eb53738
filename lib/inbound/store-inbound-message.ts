import { createHash } from "node:crypto";
import { saveForwardingVerification } from "@/lib/db/queries/forwarding";
import { recordMailboxEvent } from "@/lib/db/queries/mailbox-events";
import type { Mailbox, SenderAuthResults } from "@/lib/db/schema";
import { hashContent, ingestFetchedMessages } from "@/lib/ingest/ingest-messages";
import { getParsePool, type ParsePool } from "@/lib/ingest/parse-pool";
import { readRawHeader } from "./raw-headers";
import { checkSenderPolicy, extractAddress, type SenderRefusal } from "./sender-policy";
import { detectVerificationMail } from "./verification-mail";

/**
 * The exactly-once key of a received message: its Message-ID when it has one (a sender's retry
 * and a second forward of the same mail are one message), its content hash otherwise. The content
 * hash is the table's second unique key anyway, so a retry of the same bytes is a no-op either way.
 */
export function inboundProviderMessageId(raw: Buffer): string {
  const messageId = readRawHeader(raw, "Message-ID")?.replace(/^<|>$/g, "").trim().toLowerCase();
  if (messageId) return `smtp:mid:${createHash("sha256").update(messageId).digest("hex")}`;
  return `smtp:sha256:${hashContent(raw)}`;
}

export type InboundOutcome = { mailboxId: string; stored: "inserted" | "duplicate" | "refused"; refusal?: SenderRefusal };

/**
 * Stores one received message for each addressed mailbox through the watcher's storing path
 * (parse in the worker pool -> one INSERT ... ON CONFLICT DO NOTHING -> commit). Resolves only
 * after the commit: the SMTP server answers 250 after this, 4xx if it throws.
 */
export async function storeInboundMessage({
  mailboxes,
  raw,
  auth,
  headerFrom,
  parsePool,
}: {
  mailboxes: Mailbox[];
  raw: Buffer;
  auth: SenderAuthResults;
  headerFrom: string | null;
  parsePool?: ParsePool;
}): Promise<InboundOutcome[]> {
  const pool = parsePool ?? getParsePool();
  const subject = readRawHeader(raw, "Subject");
  const headerLevel = detectVerificationMail({ from: headerFrom, subject, text: null });
  const providerMessageId = inboundProviderMessageId(raw);
  const outcomes: InboundOutcome[] = [];
  for (const mailbox of mailboxes) {
    const refusal = headerLevel
      ? null
      : checkSenderPolicy({
          allowedSenders: mailbox.forwardingAllowedSenders,
          refuseDmarcFail: mailbox.forwardingRefuseDmarcFail,
          headerFrom: extractAddress(headerFrom),
          envelopeFrom: extractAddress(auth.envelopeFrom),
          dmarc: auth.dmarc,
        });
    if (refusal) {
      await recordMailboxEvent({
        mailboxId: mailbox.id,
        kind: "error",
        message:
          refusal === "dmarc_fail"
            ? `Refused a message from ${extractAddress(headerFrom) ?? "an unknown sender"}: DMARC failed.`
            : `Refused a message from ${extractAddress(headerFrom) ?? "an unknown sender"}: not on the allowed senders list.`,
      });
      outcomes.push({ mailboxId: mailbox.id, stored: "refused", refusal });
      continue;
    }
    const result = await ingestFetchedMessages({
      mailbox,
      messages: [{ providerMessageId, raw, receivedAt: new Date(), authResults: auth }],
      recordSync: { backlog: 0 },
      parsePool: pool,
    });
    outcomes.push({ mailboxId: mailbox.id, stored: result.inserted > 0 ? "inserted" : "duplicate" });
    if (headerLevel && result.inserted > 0) {
      // Only verification candidates pay for a second parse: the code/link is in the body.
      const parsed = await pool.parse(raw);
      const text = parsed.ok ? (parsed.fields.textBody ?? parsed.fields.htmlBody ?? null) : null;
      const found = detectVerificationMail({ from: headerFrom, subject, text });
      if (found) {
        await saveForwardingVerification({
          mailboxId: mailbox.id,
          verification: { ...found, receivedAt: new Date().toISOString(), messageId: readRawHeader(raw, "Message-ID") },
        });
      }
    }
  }
  return outcomes;
}
