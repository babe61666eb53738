/**
 * Lenient pre-parsing (issue 13 item 4). Mail clients show messages that break the RFCs, so
 * instead of failing them we repair what mailparser would otherwise read as "no text", and record
 * each defect as a warning that names it ("mbox_from_line: ..."). Only the copy handed to the
 * parser is repaired: the stored raw source stays byte-exact.
 */

export const MAX_HEADER_FIELDS = 1000;
export const MAX_HEADER_FIELD_BYTES = 16 * 1024;
/** mailparser (mailsplit) refuses a MIME node with more than 1 MiB of header. */
const MAX_HEADER_BLOCK_BYTES = 512 * 1024;
const MAX_SCANNED_PARTS = 2000;
const MAX_SCANNED_DEPTH = 100;
const ESSENTIAL_FIELDS = new Set([
  "from",
  "to",
  "cc",
  "subject",
  "date",
  "message-id",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
  "content-disposition",
  "reply-to",
  "sender",
]);

type HeaderField = { name: string; lines: Buffer[] };

export type HeaderScan = {
  fields: HeaderField[];
  /** Where the body begins (after the blank line, or at the first line that is not a header). */
  bodyStart: number;
  /** A line that is not a header ended the header block without the blank line. */
  missingSeparator: boolean;
  /** Lines inside the header block that are neither a header nor a continuation (dropped). */
  malformedLines: string[];
};

// A field name is printable and has no space or colon (8-bit bytes allowed: read leniently).
// eslint-disable-next-line no-control-regex
const FIELD_NAME = /^[^\x00-\x20\x7f:]+:/;

function lineAt(raw: Buffer, start: number): { line: Buffer; next: number } {
  const nl = raw.indexOf(0x0a, start);
  const end = nl === -1 ? raw.length : nl;
  const contentEnd = end > start && raw[end - 1] === 0x0d ? end - 1 : end;
  return { line: raw.subarray(start, contentEnd), next: nl === -1 ? raw.length : nl + 1 };
}

function looksLikeField(line: Buffer): boolean {
  // Only the first bytes decide; latin1 keeps 8-bit names readable without decoding them.
  return FIELD_NAME.test(line.subarray(0, 256).toString("latin1"));
}

/** Reads a header block leniently from `start`. Never throws. */
export function scanHeaders(raw: Buffer, start = 0): HeaderScan {
  const fields: HeaderField[] = [];
  const malformedLines: string[] = [];
  let pos = start;
  while (pos < raw.length) {
    const { line, next } = lineAt(raw, pos);
    if (line.length === 0) return { fields, bodyStart: next, missingSeparator: false, malformedLines };
    const first = line[0];
    const current = fields[fields.length - 1];
    if ((first === 0x20 || first === 0x09) && current) {
      current.lines.push(line);
    } else if (looksLikeField(line)) {
      const text = line.subarray(0, 256).toString("latin1");
      fields.push({ name: text.slice(0, text.indexOf(":")).trim().toLowerCase(), lines: [line] });
    } else if (fields.length > 0 && next < raw.length && looksLikeField(lineAt(raw, next).line)) {
      // A stray line between headers: a client skips it, so do we.
      malformedLines.push(line.subarray(0, 60).toString("latin1"));
    } else {
      return { fields, bodyStart: pos, missingSeparator: fields.length > 0, malformedLines };
    }
    pos = next;
  }
  return { fields, bodyStart: raw.length, missingSeparator: false, malformedLines };
}

function fieldValue(field: HeaderField): string {
  const text = Buffer.concat(field.lines.map((l, i) => (i === 0 ? l : Buffer.concat([Buffer.from(" "), l])))).toString("latin1");
  return text.slice(text.indexOf(":") + 1).replace(/\s+/g, " ").trim();
}

export function headerValue(fields: HeaderField[], name: string): string | null {
  const field = fields.find((f) => f.name === name);
  return field ? fieldValue(field) : null;
}

type ContentType = { type: string; params: Record<string, string> };

export function parseContentType(value: string | null): ContentType {
  if (!value) return { type: "text/plain", params: {} };
  const [type = "", ...rest] = value.split(";");
  const params: Record<string, string> = {};
  for (const m of rest.join(";").matchAll(/([a-z0-9*_.-]+)\s*=\s*(?:"([^"]*)"|([^;\s]+))/gi)) {
    const key = (m[1] ?? "").toLowerCase();
    params[key] ??= m[2] ?? m[3] ?? "";
  }
  return { type: type.trim().toLowerCase() || "text/plain", params };
}

const EXTRA_CHARSETS = new Set(["utf-7", "utf7", "us-ascii", "ascii", "binary", "8bit", "7bit", "default"]);

export function isKnownCharset(label: string): boolean {
  const name = label.trim().toLowerCase();
  if (EXTRA_CHARSETS.has(name)) return true;
  try {
    new TextDecoder(name);
    return true;
  } catch {
    return false;
  }
}

function isValidUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function hasHighBytes(bytes: Buffer): boolean {
  for (const b of bytes) if (b >= 0x80) return true;
  return false;
}

/** No header and mostly control bytes: nothing a person could read. */
export function looksBinary(raw: Buffer): boolean {
  const sample = raw.subarray(0, 64 * 1024);
  let control = 0;
  for (const b of sample) if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) || b === 0x7f) control++;
  return control > sample.length * 0.1;
}

export function isBlank(raw: Buffer): boolean {
  for (const b of raw) if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false;
  return true;
}

const CRLF = Buffer.from("\r\n");

function fieldBytes(name: string, value: string): Buffer {
  return Buffer.from(`${name}: ${value}\r\n`, "utf8");
}

export type RepairResult =
  | { ok: true; source: Buffer; warnings: string[] }
  | { ok: false; error: string; warnings: string[] };

/** Repairs the top level of a message so that mailparser shows what a mail client would. */
export function repairMessage(raw: Buffer): RepairResult {
  const warnings: string[] = [];
  if (isBlank(raw)) return { ok: false, error: "The message is empty.", warnings };
  let start = 0;
  let first = lineAt(raw, 0);
  if (/^From [^\s:]/.test(first.line.subarray(0, 64).toString("latin1"))) {
    warnings.push('mbox_from_line: the message began with an mbox "From " separator line, which was skipped');
    start = first.next;
    first = lineAt(raw, start);
  }
  let blankLines = 0;
  while (start < raw.length && first.line.length === 0 && looksLikeField(lineAt(raw, first.next).line)) {
    start = first.next;
    first = lineAt(raw, start);
    blankLines++;
  }
  if (blankLines > 0) warnings.push(`leading_blank_lines: ${blankLines} blank line(s) before the headers were skipped`);

  const scan = scanHeaders(raw, start);
  if (scan.fields.length === 0) {
    const body = raw.subarray(start);
    if (looksBinary(body)) {
      return { ok: false, error: "The message has no readable content (no header block, binary data).", warnings };
    }
    const charset = isValidUtf8(body.subarray(0, 1024 * 1024)) ? "utf-8" : "windows-1252";
    warnings.push(`no_headers: the message has no header block; its whole source is shown as plain text (${charset})`);
    return {
      ok: true,
      source: Buffer.concat([Buffer.from(`Content-Type: text/plain; charset=${charset}\r\n\r\n`), body]),
      warnings,
    };
  }
  if (scan.malformedLines.length > 0) {
    warnings.push(
      `malformed_header_line: ${scan.malformedLines.length} line(s) in the header block were not headers and were skipped ("${scan.malformedLines[0]}")`,
    );
  }
  if (scan.missingSeparator) {
    warnings.push("missing_header_separator: no blank line after the headers; the first line that is not a header starts the body");
  }

  let fields = scan.fields;
  const long = fields.filter((f) => f.lines.reduce((n, l) => n + l.length + 2, 0) > MAX_HEADER_FIELD_BYTES);
  if (long.length > 0) {
    warnings.push(`header_too_long: ${long.map((f) => f.name).slice(0, 5).join(", ")} longer than ${MAX_HEADER_FIELD_BYTES / 1024} KB, cut`);
    fields = fields.map((f) => (long.includes(f) ? { name: f.name, lines: [truncateField(f)] } : f));
  }
  if (fields.length > MAX_HEADER_FIELDS) {
    warnings.push(`too_many_headers: ${fields.length} header fields; the first ${MAX_HEADER_FIELDS} and the standard ones after them were read`);
    fields = fields.filter((f, i) => i < MAX_HEADER_FIELDS || ESSENTIAL_FIELDS.has(f.name));
  }
  const headerBytes = fields.reduce((n, f) => n + f.lines.reduce((m, l) => m + l.length + 2, 0), 0);
  if (headerBytes > MAX_HEADER_BLOCK_BYTES) {
    warnings.push(`header_block_too_large: ${headerBytes} bytes of headers; only the standard fields were read`);
    fields = fields.filter((f) => ESSENTIAL_FIELDS.has(f.name));
  }

  let headerBlock = Buffer.concat(fields.flatMap((f) => f.lines.flatMap((l) => [l, CRLF])));
  let transcoded = false;
  if (hasHighBytes(headerBlock)) {
    if (isValidUtf8(headerBlock)) {
      warnings.push("8bit_header: raw 8-bit bytes in the header block (not MIME-encoded), read as UTF-8");
    } else {
      warnings.push("8bit_header: raw 8-bit bytes in the header block (not MIME-encoded), read as windows-1252");
      headerBlock = Buffer.from(new TextDecoder("windows-1252").decode(headerBlock), "utf8");
      transcoded = true;
    }
  }

  const body = raw.subarray(scan.bodyStart);
  const contentType = parseContentType(headerValue(fields, "content-type"));
  let replaceContentType: string | null = null;
  if (contentType.type.startsWith("multipart/")) {
    const boundary = contentType.params.boundary;
    if (!boundary) {
      warnings.push("multipart_without_boundary: the message is multipart but declares no boundary; its body is shown as plain text");
      replaceContentType = "text/plain";
    } else if (!hasBoundaryLine(body, boundary)) {
      warnings.push(`boundary_not_found: the boundary "${boundary.slice(0, 70)}" never appears in the body; it is shown as plain text`);
      replaceContentType = "text/plain";
    }
  }
  if (replaceContentType) {
    const charset = contentType.params.charset ?? (isValidUtf8(body.subarray(0, 1024 * 1024)) ? "utf-8" : "windows-1252");
    headerBlock = Buffer.concat([
      Buffer.concat(
        fields
          .filter((f) => f.name !== "content-type" && f.name !== "content-transfer-encoding")
          .flatMap((f) => f.lines.flatMap((l) => [l, CRLF])),
      ),
      fieldBytes("Content-Type", `${replaceContentType}; charset=${charset}`),
    ]);
    if (hasHighBytes(headerBlock) && !isValidUtf8(headerBlock)) {
      headerBlock = Buffer.from(new TextDecoder("windows-1252").decode(headerBlock), "utf8");
    }
  }

  const modified =
    start > 0 ||
    scan.malformedLines.length > 0 ||
    scan.missingSeparator ||
    long.length > 0 ||
    fields.length !== scan.fields.length ||
    transcoded ||
    replaceContentType !== null;
  const source = modified ? Buffer.concat([headerBlock, CRLF, body]) : raw;
  scanParts(source, 0, warnings, { parts: 0 });
  return { ok: true, source, warnings };
}

function truncateField(field: HeaderField): Buffer {
  return Buffer.concat(field.lines).subarray(0, MAX_HEADER_FIELD_BYTES);
}

function hasBoundaryLine(body: Buffer, boundary: string): boolean {
  const marker = Buffer.from(`--${boundary}`, "latin1");
  for (let i = body.indexOf(marker); i !== -1; i = body.indexOf(marker, i + 1)) {
    if (i === 0 || body[i - 1] === 0x0a) return true;
  }
  return false;
}

function addOnce(warnings: string[], prefix: string, text: string): void {
  if (!warnings.some((w) => w.startsWith(`${prefix}:`))) warnings.push(`${prefix}: ${text}`);
}

/**
 * Walks the MIME tree only to name defects mailparser hides (it decodes leniently and silently):
 * unknown charsets, broken base64 / quoted-printable, nesting deeper than anyone sends. Bounded in
 * parts and depth so a hostile tree costs little.
 */
function scanParts(part: Buffer, depth: number, warnings: string[], budget: { parts: number }): void {
  if (++budget.parts > MAX_SCANNED_PARTS) return;
  const scan = scanHeaders(part);
  const body = part.subarray(scan.bodyStart);
  const contentType = parseContentType(headerValue(scan.fields, "content-type"));
  if (contentType.type.startsWith("multipart/")) {
    const boundary = contentType.params.boundary;
    if (!boundary) {
      addOnce(warnings, "nested_multipart_without_boundary", "a multipart part declares no boundary; its content is shown as one part");
      return;
    }
    if (depth >= MAX_SCANNED_DEPTH) {
      addOnce(warnings, "deep_nesting", `multipart parts nested deeper than ${MAX_SCANNED_DEPTH} levels`);
      return;
    }
    for (const child of splitParts(body, boundary)) scanParts(child, depth + 1, warnings, budget);
    return;
  }
  const charset = contentType.params.charset;
  if (charset && !isKnownCharset(charset)) {
    addOnce(warnings, "unknown_charset", `"${charset.slice(0, 40)}" is not a known charset; the text was read as UTF-8`);
  }
  const encoding = (headerValue(scan.fields, "content-transfer-encoding") ?? "").toLowerCase();
  const sample = body.subarray(0, 4 * 1024 * 1024).toString("latin1");
  if (encoding === "base64") {
    const compact = sample.replace(/[\s]+/g, "");
    if (/[^A-Za-z0-9+/=]/.test(compact) || /=[^=]/.test(compact) || (body.length <= sample.length && compact.length % 4 !== 0)) {
      addOnce(warnings, "broken_base64", "a base64 part holds characters or padding that are not base64; what could be decoded is shown");
    }
  } else if (encoding === "quoted-printable") {
    if (/=(?![0-9A-Fa-f]{2}|\r?\n|$)/.test(sample)) {
      addOnce(warnings, "broken_quoted_printable", 'a quoted-printable part holds "=" not followed by two hex digits; it is shown as written');
    }
  }
}

function splitParts(body: Buffer, boundary: string): Buffer[] {
  const marker = Buffer.from(`--${boundary}`, "latin1");
  const starts: number[] = [];
  for (let i = body.indexOf(marker); i !== -1; i = body.indexOf(marker, i + marker.length)) {
    if (i === 0 || body[i - 1] === 0x0a) starts.push(i);
  }
  const parts: Buffer[] = [];
  for (let k = 0; k < starts.length; k++) {
    const at = starts[k] as number;
    if (body[at + marker.length] === 0x2d && body[at + marker.length + 1] === 0x2d) break; // closing --boundary--
    const from = lineAt(body, at).next;
    const to = k + 1 < starts.length ? (starts[k + 1] as number) : body.length;
    if (from < to) parts.push(body.subarray(from, to));
  }
  return parts;
}
