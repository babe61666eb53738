import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { getEnv } from "@/lib/env";
import { getLogger } from "@/lib/logger";
import { headerValue, scanHeaders } from "./mime-repair";
import type { HeaderFields, HeaderOnlyFields, ParseResult } from "./parse-message";
import { sanitizeText } from "./sanitize";
import type { ParseTask, ParseTaskResult } from "./parse-worker";

export type ParsePoolOptions = {
  threads: number;
  maxHeapMb: number;
  timeoutMs: number;
  maxBodyChars: number;
};

export type ParsePool = {
  /** How many parses may run at once: callers submit no more, so a batch is not buffered twice. */
  readonly concurrency: number;
  parse(raw: Buffer): Promise<ParseResult>;
  parseHeaders(raw: Buffer): Promise<HeaderOnlyFields | null>;
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

function workerFile(): { filename: string; execArgv: string[] } {
  const here = import.meta.url;
  const ts = here.endsWith(".ts");
  const filename = fileURLToPath(new URL(`./parse-worker.${ts ? "ts" : "js"}`, here));
  // Under tsx (the watcher, the tests) workers inherit process.execArgv, which loads tsx; plain
  // `node --import tsx` without it would not, so add it then.
  const hasTsx = process.execArgv.some((a) => a.includes("tsx"));
  return { filename, execArgv: ts && !hasTsx ? [...process.execArgv, "--import", "tsx"] : process.execArgv };
}

/**
 * MIME parsing off the main thread (issue 13 item 5): piscina threads with a heap limit and a
 * per-parse timeout. A parse that runs out of memory or time ends its thread (piscina starts a new
 * one) and the message is stored as failed; the watcher and the other mailboxes never notice.
 */
export function createParsePool(opts: ParsePoolOptions): ParsePool {
  const threads = Math.max(1, Math.min(opts.threads, availableParallelism()));
  const { filename, execArgv } = workerFile();
  const pool = new Piscina<ParseTask, ParseTaskResult>({
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

  const run = (raw: Buffer, headersOnly: boolean): Promise<ParseTaskResult> =>
    pool.run({ raw, maxBodyChars: opts.maxBodyChars, headersOnly }, { signal: AbortSignal.timeout(opts.timeoutMs) });

  return {
    concurrency: threads,
    async parse(raw) {
      try {
        const out = await run(raw, false);
        if (out.kind === "message") return out.result;
        throw new Error("unexpected parse result");
      } catch (err) {
        return { ok: false, error: describeParseCrash(err), headers: rawHeaders(raw), warnings: [] };
      }
    },
    async parseHeaders(raw) {
      try {
        const out = await run(raw, true);
        return out.kind === "headers" ? out.headers : null;
      } catch {
        return null;
      }
    },
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
