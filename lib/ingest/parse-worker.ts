/**
 * Runs in a piscina worker thread (see parse-pool.ts): untrusted MIME is parsed here, under the
 * thread's heap limit, so a runaway parse costs one thread and one message, never the watcher.
 */
import { parseHeaderBlock, parseMessage, type HeaderOnlyFields, type ParseResult } from "./parse-message";

export type ParseTask = { raw: Uint8Array; maxBodyChars: number; headersOnly: boolean };
export type ParseTaskResult = { kind: "message"; result: ParseResult } | { kind: "headers"; headers: HeaderOnlyFields };

export default async function parseTask(task: ParseTask): Promise<ParseTaskResult> {
  // Structured clone delivers a Uint8Array; mailparser wants a Buffer (same memory, no copy).
  const raw = Buffer.from(task.raw.buffer, task.raw.byteOffset, task.raw.byteLength);
  if (task.headersOnly) return { kind: "headers", headers: await parseHeaderBlock(raw) };
  return { kind: "message", result: await parseMessage(raw, { maxBodyChars: task.maxBodyChars }) };
}
