/**
 * Runs in a piscina worker thread (see parse-pool.ts): untrusted MIME is parsed here, under the
 * thread's heap limit, so a runaway parse costs one thread and one message, never the watcher.
 */
import { parseHeaderBlock, parseMessage, type HeaderOnlyFields, type ParseResult } from "./parse-message";

export type ParseTask = { raw: Uint8Array; maxBodyChars: number; headersOnly: boolean };
export type ParseTaskResult = { kind: "message"; result: ParseResult } | { kind: "headers"; headers: HeaderOnlyFields };
/**
 * Many messages in one hop (issue 19): their sources packed end to end in one transferred buffer,
 * so a burst costs one postMessage and one thread wake-up per batch instead of per message.
 */
export type ParseBatchTask = { batch: { packed: Uint8Array; lengths: number[]; headersOnly: boolean[]; maxBodyChars: number } };

function parseOne(raw: Buffer, headersOnly: boolean, maxBodyChars: number): Promise<ParseTaskResult> {
  return headersOnly
    ? parseHeaderBlock(raw).then((headers) => ({ kind: "headers" as const, headers }))
    : parseMessage(raw, { maxBodyChars }).then((result) => ({ kind: "message" as const, result }));
}

export default async function parseTask(task: ParseTask | ParseBatchTask): Promise<ParseTaskResult | ParseTaskResult[]> {
  if ("batch" in task) {
    const { packed, lengths, headersOnly, maxBodyChars } = task.batch;
    const out: ParseTaskResult[] = [];
    let offset = 0;
    for (const [i, length] of lengths.entries()) {
      // Views into the one transferred buffer: no copy per message.
      const raw = Buffer.from(packed.buffer, packed.byteOffset + offset, length);
      offset += length;
      out.push(await parseOne(raw, headersOnly[i] === true, maxBodyChars));
    }
    return out;
  }
  // Structured clone delivers a Uint8Array; mailparser wants a Buffer (same memory, no copy).
  const raw = Buffer.from(task.raw.buffer, task.raw.byteOffset, task.raw.byteLength);
  return parseOne(raw, task.headersOnly, task.maxBodyChars);
}
