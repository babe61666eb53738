import { simpleParser, type AddressObject, type ParsedMail } from "mailparser";
import type { AttachmentInfo } from "@/lib/db/schema";
import { repairMessage, scanHeaders } from "./mime-repair";
import { describeUnstorable, sanitizeJson, sanitizeNullableText } from "./sanitize";

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

export type HeaderFields = Pick<ParsedFields, "messageId" | "fromAddress" | "subject">;

export type ParseResult =
  | { ok: true; fields: ParsedFields; warnings: string[] }
  /** `headers`: what could still be read, so an admin can tell which message failed. */
  | { ok: false; error: string; headers: HeaderFields; warnings: string[] };

export type ParseOptions = {
  /** Text and HTML bodies longer than this are cut (with a warning). */
  maxBodyChars?: number;
};

export const DEFAULT_MAX_BODY_CHARS = 1_000_000;
const NO_HEADERS: HeaderFields = { messageId: null, fromAddress: null, subject: null };

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
async function readHeadersBestEffort(raw: Buffer): Promise<HeaderFields> {
  const scan = scanHeaders(raw);
  if (scan.fields.length === 0) return NO_HEADERS;
  try {
    const parsed = await simpleParser(Buffer.concat([raw.subarray(0, Math.min(scan.bodyStart, 256 * 1024)), Buffer.from("\r\n\r\n")]), {
      skipTextToHtml: true,
    });
    return sanitizeJson({
      messageId: parsed.messageId ?? null,
      fromAddress: formatAddresses(parsed.from),
      subject: parsed.subject ?? null,
    });
  } catch {
    return NO_HEADERS;
  }
}

export type HeaderOnlyFields = HeaderFields & { sentAt: Date | null; toAddresses: string | null; warnings: string[] };

/** Headers of a too_large message (only its header block was fetched). */
export async function parseHeaderBlock(raw: Buffer): Promise<HeaderOnlyFields> {
  const result = await parseMessage(raw, { maxBodyChars: 0 });
  if (!result.ok) return { ...result.headers, sentAt: null, toAddresses: null, warnings: result.warnings };
  const { messageId, fromAddress, subject, sentAt, toAddresses } = result.fields;
  return { messageId, fromAddress, subject, sentAt, toAddresses, warnings: result.warnings };
}

function readDate(parsed: ParsedMail, warnings: string[]): Date | null {
  const line = parsed.headerLines.find((h) => h.key === "date");
  if (!line) return null;
  const value = line.line.slice(line.line.indexOf(":") + 1).trim();
  const date = parsed.date;
  // mailparser answers "now" for a Date it cannot read; a mail client shows no date instead.
  if (Number.isNaN(Date.parse(value)) || !date || Number.isNaN(date.getTime())) {
    if (date && !Number.isNaN(date.getTime()) && Math.abs(date.getTime() - Date.now()) > 60_000) return date;
    warnings.push(`bad_date: "${value.slice(0, 60)}" is not a date; the message is shown without one`);
    return null;
  }
  return date;
}

function cut(value: string | null, max: number, what: string, warnings: string[]): string | null {
  if (value === null || value.length <= max) return value;
  if (max > 0) warnings.push(`body_truncated: the ${what} body was ${value.length} characters and was cut to ${max}`);
  return value.slice(0, max);
}

async function runParser(source: Buffer): Promise<ParsedMail> {
  return simpleParser(source, { skipImageLinks: true, skipTextToHtml: true });
}

/**
 * Parses leniently: what a mail client would show is shown, and each defect found on the way is a
 * warning on the message. `ok: false` only for a message with no readable content at all.
 */
export async function parseMessage(raw: Buffer, opts: ParseOptions = {}): Promise<ParseResult> {
  const maxBodyChars = opts.maxBodyChars ?? DEFAULT_MAX_BODY_CHARS;
  const repaired = repairMessage(raw);
  const warnings = [...repaired.warnings];
  if (!repaired.ok) return { ok: false, error: repaired.error, headers: NO_HEADERS, warnings };
  let parsed: ParsedMail;
  try {
    parsed = await runParser(repaired.source);
  } catch (err) {
    // mailparser refuses some trees outright (more than 1,000 parts, 1 MiB of part headers): show
    // the body as plain text rather than nothing.
    const scan = scanHeaders(repaired.source);
    const headerBlock = scan.fields
      .filter((f) => f.name !== "content-type" && f.name !== "content-transfer-encoding")
      .flatMap((f) => f.lines.flatMap((l) => [l, Buffer.from("\r\n")]));
    const fallback = Buffer.concat([
      ...headerBlock,
      Buffer.from("Content-Type: text/plain; charset=utf-8\r\n\r\n"),
      repaired.source.subarray(scan.bodyStart),
    ]);
    try {
      parsed = await runParser(fallback);
      warnings.push(`parse_fallback: ${(err as Error).message}; the body is shown as plain text`);
    } catch (second) {
      return {
        ok: false,
        error: `The message could not be parsed: ${(second as Error).message}`,
        headers: await readHeadersBestEffort(raw),
        warnings,
      };
    }
  }
  const fields: ParsedFields = {
    messageId: parsed.messageId ?? null,
    fromAddress: formatAddresses(parsed.from),
    toAddresses: formatAddresses(parsed.to),
    subject: parsed.subject ?? null,
    sentAt: readDate(parsed, warnings),
    textBody: cut(parsed.text || null, maxBodyChars, "text", warnings),
    htmlBody: cut(typeof parsed.html === "string" ? parsed.html : null, maxBodyChars, "HTML", warnings),
    attachments: parsed.attachments.map((a) => ({ filename: a.filename ?? null, content_type: a.contentType, size: a.size })),
  };
  warnings.push(...describeUnstorable(fields));
  return {
    ok: true,
    fields: {
      ...fields,
      messageId: sanitizeNullableText(fields.messageId),
      fromAddress: sanitizeNullableText(fields.fromAddress),
      toAddresses: sanitizeNullableText(fields.toAddresses),
      subject: sanitizeNullableText(fields.subject),
      textBody: sanitizeNullableText(fields.textBody),
      htmlBody: sanitizeNullableText(fields.htmlBody),
      attachments: sanitizeJson(fields.attachments),
    },
    warnings,
  };
}

