import { randomUUID } from "node:crypto";

/** A small RFC 5322 message for tests; `extra` goes in the body verbatim (may hold 8-bit bytes). */
export function sampleMime(subject: string, extra: Buffer | string = ""): Buffer {
  const head = Buffer.from(
    [
      `Message-ID: <${randomUUID()}@example.test>`,
      "From: Booking Partner <partner@example.test>",
      "To: reservations@example.com",
      `Subject: ${subject}`,
      `Date: ${new Date().toUTCString()}`,
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=ISO-8859-1",
      "Content-Transfer-Encoding: 8bit",
      "",
      "",
    ].join("\r\n"),
    "utf8",
  );
  return Buffer.concat([head, Buffer.isBuffer(extra) ? extra : Buffer.from(extra, "utf8"), Buffer.from("\r\n")]);
}

/** name/value pairs of a message's header block, unfolded, in order (Gmail's format=metadata, Graph's internetMessageHeaders). */
export function parseHeaderBlock(raw: Buffer): { name: string; value: string }[] {
  const text = raw.toString("utf8");
  const end = text.search(/\r?\n\r?\n/);
  const block = (end >= 0 ? text.slice(0, end) : text).replace(/\r?\n[ \t]+/g, " ");
  const out: { name: string; value: string }[] = [];
  for (const line of block.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0) out.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  return out;
}
