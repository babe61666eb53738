/** The header block of a raw message (up to the first empty line), as latin1 text. */
function headerBlock(raw: Buffer): string {
  const crlf = raw.indexOf("\r\n\r\n");
  const lf = raw.indexOf("\n\n");
  const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf >= 0 ? lf : Math.min(raw.length, 256 * 1024);
  return raw.subarray(0, end).toString("latin1");
}

/**
 * The first value of a header, unfolded, or null. Cheap (no MIME parse): the SMTP path needs only
 * Message-ID and Subject before it decides, the full parse happens in the ingest path.
 */
export function readRawHeader(raw: Buffer, name: string): string | null {
  const lines = headerBlock(raw).split(/\r?\n/);
  const lower = `${name.toLowerCase()}:`;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line.toLowerCase().startsWith(lower)) {
      let value = line.slice(lower.length);
      while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1] ?? "")) value += ` ${(lines[++i] ?? "").trim()}`;
      return value.trim() || null;
    }
  }
  return null;
}
