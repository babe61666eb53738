import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { getEnv } from "@/lib/env";
import { getLogger } from "@/lib/logger";
import { headerValue, scanHeaders } from "./mime-repair";
import type { HeaderFields, HeaderOnlyFields, ParseResult } from "./parse-message";
import { sanitizeText } from "./sanitize";
import type { ParseBatchTask, ParseTask, ParseTaskResult } from "./parse-worker";

export type ParsePoolOptions = {
  threads: number;
  maxHeapMb: number;
  timeoutMs: number;
  maxBodyChars: number;
  /** Most messages per thread hop (default 64); 1 sends each message alone, as before issue 19. */
  maxBatch?: number;
  /** Most source bytes per hop (default 4 MiB); a larger message always goes alone. */
  maxBatchBytes?: number;
};

export type ParsePool = {
  /** How many parses one caller should have outstanding: enough to fill a batch for the threads (threads x 8). */
  readonly concurrency: number;
  parse(raw: Buffer): Promise<ParseResult>;
  parseHeaders(raw: Buffer): Promise<HeaderOnlyFields | null>;
  /** Thread hops so far and the messages they carried (a batch is one hop): for benchmarks and tests. */
  stats(): { hops: number; messages: number };
  destroy(): Promise<void>;
};

/**
 * What the admin can still tell a crashed parse by: From / Subject / Message-ID as written in the
 * header block (not decoded: decoding is what may have crashed). scanHeaders is linear and bounded.
 */
function rawHeaders(raw: Buffer): HeaderFields {
  const scan = scanHeaders(raw);
  const value = (name: string): string | null => {
    const v = headerValue(scan.fields, name);
    return v ? sanitizeText(v.slice(0, 300)) : null;
  };
  return { messageId: value("message-id"), fromAddress: value("from"), subject: value("subject") };
}

/** What an admin reads for a parse the pool had to stop. */
export function describeParseCrash(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string };
  if (e?.name === "AbortError") return "The message could not be parsed: the parser ran out of time.";
  if (e?.code === "ERR_WORKER_OUT_OF_MEMORY" || /memory limit|out of memory/i.test(e?.message ?? "")) {
    return "The message could not be parsed: the parser ran out of memory.";
  }
  return `The message could not be parsed: the parser stopped (${(e?.message ?? "unknown error").slice(0, 200)}).`;
}

const PROCESS_ONLY_FLAG = /^--(trace-gc|max-semi-space-size|max-old-space-size|no-memory-reducer)\b/;

function workerFile(): { filename: string; execArgv: string[] } {
  const here = import.meta.url;
  const ts = here.endsWith(".ts");
  const filename = fileURLToPath(new URL(`./parse-worker.${ts ? "ts" : "js"}`, here));
  // Under tsx (the watcher, the tests) workers inherit process.execArgv, which loads tsx; plain
  // `node --import tsx` without it would not, so add it then.
  const hasTsx = process.execArgv.some((a) => a.includes("tsx"));
  // A worker refuses V8 heap and GC flags given to the process (--trace-gc, --max-semi-space-size
  // for a benchmark): they stay with the main thread; the threads' heaps are set by resourceLimits.
  const argv = process.execArgv.filter((a) => !PROCESS_ONLY_FLAG.test(a));
  return { filename, execArgv: ts && !hasTsx ? [...argv, "--import", "tsx"] : argv };
}

/**
 * MIME parsing off the main thread (issue 13 item 5): piscina threads with a heap limit and a
 * per-parse timeout. A parse that runs out of memory or time ends its thread (piscina starts a new
 * one) and the message is stored as failed; the watcher and the other mailboxes never notice.
 */
export function createParsePool(opts: ParsePoolOptions): ParsePool {
  const threads = Math.max(1, Math.min(opts.threads, availableParallelism()));
  const { filename, execArgv } = workerFile();
  const pool = new Piscina<ParseTask | ParseBatchTask, ParseTaskResult | ParseTaskResult[]>({
    filename,
    execArgv,
    // All threads stay up: a burst never waits for a thread to start (~1 s under tsx, ~30 MB each).
    minThreads: threads,
    maxThreads: threads,
    resourceLimits: {
      maxOldGenerationSizeMb: opts.maxHeapMb,
      maxYoungGenerationSizeMb: Math.min(64, Math.max(8, Math.round(opts.maxHeapMb / 8))),
      stackSizeMb: 8,
    },
  });
  // A worker that dies between tasks has no promise to reject; piscina emits it here instead.
  pool.on("error", (err: unknown) => getLogger().warn({ err }, "parse worker failed"));

  const counters = { hops: 0, messages: 0 };
  const run = (raw: Buffer, headersOnly: boolean): Promise<ParseTaskResult> => {
    counters.hops += 1;
    counters.messages += 1;
    return pool.run({ raw, maxBodyChars: opts.maxBodyChars, headersOnly }, { signal: AbortSignal.timeout(opts.timeoutMs) }) as Promise<ParseTaskResult>;
  };

  // Issue 19: during a burst, hundreds of mailboxes each submit a message within a few event-loop
  // turns. They are gathered and sent as one batch per free thread (at most `threads` batches in
  // flight, so both cores parse and the batch grows while they are busy). A batch that crashes
  // (memory, time, error) is parsed again one message at a time, so only the hostile message
  // ends `failed`, exactly as without batching.
  const maxBatch = Math.max(1, opts.maxBatch ?? 64);
  const maxBatchBytes = Math.max(1, opts.maxBatchBytes ?? 4 * 1024 * 1024);
  type Pending = { raw: Buffer; headersOnly: boolean; done: (r: ParseTaskResult | Error) => void };
  const queue: Pending[] = [];
  let inFlight = 0;
  let flushScheduled = false;

  const runAlone = (p: Pending): void => {
    run(p.raw, p.headersOnly).then(p.done, (err: unknown) => p.done(err instanceof Error ? err : new Error(String(err))));
  };

  const takeBatch = (): Pending[] => {
    const batch: Pending[] = [];
    let bytes = 0;
    while (queue.length > 0 && batch.length < maxBatch) {
      const next = queue[0] as Pending;
      if (batch.length > 0 && bytes + next.raw.length > maxBatchBytes) break;
      batch.push(next);
      queue.shift();
      bytes += next.raw.length;
    }
    return batch;
  };

  const runBatch = async (batch: Pending[]): Promise<void> => {
    const total = batch.reduce((n, p) => n + p.raw.length, 0);
    const packed = new Uint8Array(total);
    let offset = 0;
    for (const p of batch) {
      packed.set(p.raw, offset);
      offset += p.raw.length;
    }
    const task: ParseBatchTask = {
      batch: { packed, lengths: batch.map((p) => p.raw.length), headersOnly: batch.map((p) => p.headersOnly), maxBodyChars: opts.maxBodyChars },
    };
    counters.hops += 1;
    counters.messages += batch.length;
    try {
      // The time limit is per message; a batch of typical mail takes a fraction of one.
      const results = (await pool.run(task, { transferList: [packed.buffer], signal: AbortSignal.timeout(opts.timeoutMs) })) as ParseTaskResult[];
      for (const [i, p] of batch.entries()) p.done(results[i] ?? new Error("missing parse result"));
    } catch {
      // Which message did it? Each alone, with its own limits: only that one fails.
      await Promise.all(
        batch.map(
          (p) =>
            new Promise<void>((resolve) =>
              run(p.raw, p.headersOnly).then(
                (r) => (p.done(r), resolve()),
                (err: unknown) => (p.done(err instanceof Error ? err : new Error(String(err))), resolve()),
              ),
            ),
        ),
      );
    }
  };

  const flush = (): void => {
    flushScheduled = false;
    while (queue.length > 0 && inFlight < threads) {
      const batch = takeBatch();
      if (batch.length === 1) {
        // One message: the plain task, no packing.
        inFlight += 1;
        const p = batch[0] as Pending;
        const done = p.done;
        p.done = (r) => {
          inFlight -= 1;
          done(r);
          scheduleFlush();
        };
        runAlone(p);
        continue;
      }
      inFlight += 1;
      void runBatch(batch).finally(() => {
        inFlight -= 1;
        scheduleFlush();
      });
    }
  };

  const scheduleFlush = (): void => {
    if (flushScheduled || queue.length === 0 || inFlight >= threads) return;
    flushScheduled = true;
    // setImmediate: let this turn's other mailboxes add theirs first.
    setImmediate(flush);
  };

  const submit = (raw: Buffer, headersOnly: boolean): Promise<ParseTaskResult> => {
    if (maxBatch === 1) return run(raw, headersOnly);
    return new Promise<ParseTaskResult>((resolve, reject) => {
      queue.push({ raw, headersOnly, done: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
      scheduleFlush();
    });
  };

  return {
    // Enough per caller to fill a batch; the bytes a caller holds are bounded by its fetch batch.
    concurrency: threads * 8,
    async parse(raw) {
      try {
        const out = await submit(raw, false);
        if (out.kind === "message") return out.result;
        throw new Error("unexpected parse result");
      } catch (err) {
        return { ok: false, error: describeParseCrash(err), headers: rawHeaders(raw), warnings: [] };
      }
    },
    async parseHeaders(raw) {
      try {
        const out = await submit(raw, true);
        return out.kind === "headers" ? out.headers : null;
      } catch {
        return null;
      }
    },
    stats: () => ({ ...counters }),
    destroy: () => pool.destroy(),
  };
}

let shared: ParsePool | undefined;

/** The process's pool, sized from the environment (EMAIL_PARSE_*). */
export function getParsePool(): ParsePool {
  if (!shared) {
    const env = getEnv();
    shared = createParsePool({
      threads: env.EMAIL_PARSE_THREADS,
      maxHeapMb: env.EMAIL_PARSE_MAX_HEAP_MB,
      timeoutMs: env.EMAIL_PARSE_TIMEOUT_SECONDS * 1000,
      maxBodyChars: env.EMAIL_MAX_BODY_CHARS,
    });
  }
  return shared;
}

export async function closeParsePool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  await pool?.destroy();
}
