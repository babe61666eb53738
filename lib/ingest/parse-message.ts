import { simpleParser, type AddressObject } from "mailparser";
import type { AttachmentInfo } from "../db/schema";

export type ParsedFields = {
  messageId: string | null;
  fromAddress: string | null;
  toAddresses: string | null;
  subject: string | null;
  sentAt: Date | null;
  textBody: string | null;
  htmlBody: string | null;
  attachments: AttachmentInfo[];
};

export type ParseResult =
  | { ok: true; fields: ParsedFields }
  /** `headers`: what could still be read, so an admin can tell which message failed. */
  | { ok: false; error: string; headers: Pick<ParsedFields, "messageId" | "fromAddress" | "subject"> };

const HEADER_LINE = /^[\x21-\x39\x3b-\x7e]+:/;
const MAX_TEXT_CHARS = 1_000_000;

function findHeaderEnd(raw: Buffer): number {
  const crlf = raw.indexOf("\r\n\r\n");
  const lf = raw.indexOf("\n\n");
  if (crlf === -1) return lf;
  if (lf === -1) return crlf;
  return Math.min(crlf, lf);
}

/**
 * mailparser accepts almost anything, so the checks that make a message "broken" for us are
 * explicit: no RFC 5322 header block, a header line that is not a header, or a multipart body
 * without the boundary that delimits its parts. Such mail is stored as failed with its raw source.
 */
function checkStructure(raw: Buffer): string | null {
  if (raw.length === 0) return "The message is empty.";
  const end = findHeaderEnd(raw);
  const headerBlock = raw.subarray(0, end === -1 ? Math.min(raw.length, 64 * 1024) : end).toString("latin1");
  const lines = headerBlock.split(/\r?\n/);
  if (!HEADER_LINE.test(lines[0] ?? "")) return "The message does not start with a header (malformed MIME).";
  let contentType = "";
  let current = "";
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      current += line;
      continue;
    }
    if (!HEADER_LINE.test(line)) return `Malformed header line: "${line.slice(0, 60)}".`;
    if (/^content-type:/i.test(current)) contentType = current;
    current = line;
  }
  if (/^content-type:/i.test(current)) contentType = current;
  if (/multipart\//i.test(contentType) && !/boundary\s*=/i.test(contentType)) {
    return "The message is multipart but declares no boundary (malformed MIME).";
  }
  return null;
}

function formatAddresses(value: AddressObject | AddressObject[] | undefined): string | null {
  if (!value) return null;
  const list = Array.isArray(value) ? value : [value];
  const text = list
    .map((a) => a.text)
    .filter(Boolean)
    .join(", ");
  return text || null;
}

/** Best-effort From / Subject / Message-ID of a message that failed: unfolded, decoded, never throws. */
async function readHeadersBestEffort(raw: Buffer): Promise<Pick<ParsedFields, "messageId" | "fromAddress" | "subject">> {
  const none = { messageId: null, fromAddress: null, subject: null };
  const end = findHeaderEnd(raw);
  if (end <= 0) return none;
  try {
    const parsed = await simpleParser(Buffer.concat([raw.subarray(0, end), Buffer.from("\r\n\r\n")]), { skipTextToHtml: true });
    return { messageId: parsed.messageId ?? null, fromAddress: formatAddresses(parsed.from), subject: parsed.subject ?? null };
  } catch {
    return none;
  }
}

export async function parseMessage(raw: Buffer): Promise<ParseResult> {
  const structureError = checkStructure(raw);
  if (structureError) return { ok: false, error: structureError, headers: await readHeadersBestEffort(raw) };
  try {
    const parsed = await simpleParser(raw, { skipImageLinks: true, skipTextToHtml: true });
    return {
      ok: true,
      fields: {
        messageId: parsed.messageId ?? null,
        fromAddress: formatAddresses(parsed.from),
        toAddresses: formatAddresses(parsed.to),
        subject: parsed.subject ?? null,
        sentAt: parsed.date && !Number.isNaN(parsed.date.getTime()) ? parsed.date : null,
        textBody: parsed.text ? parsed.text.slice(0, MAX_TEXT_CHARS) : null,
        htmlBody: typeof parsed.html === "string" ? parsed.html.slice(0, MAX_TEXT_CHARS) : null,
        attachments: parsed.attachments.map((a) => ({
          filename: a.filename ?? null,
          content_type: a.contentType,
          size: a.size,
        })),
      },
    };
  } catch (err) {
    return { ok: false, error: `The message could not be parsed: ${(err as Error).message}`, headers: await readHeadersBestEffort(raw) };
  }
}
