import type { Logger } from "pino";
import type { z } from "zod";
import type { SyncState } from "@/lib/db/schema";
import { mapLimit } from "@/lib/util/map-limit";
import type { FetchedMessage, MailErrorCode } from "@/lib/email/provider";

/** HTTP plumbing shared by the Gmail and Graph providers: retry timing, concurrency, error shapes. */

/** Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3), in milliseconds. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP date names its weekday and month; V8 would otherwise read "-5" as a year.
  if (!/[a-z]{3}/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function backoffDelay(attempt: number, policy: { baseDelayMs: number; maxDelayMs: number }): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  // Half jitter keeps many throttled mailboxes from retrying in lockstep.
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

/** Resolves true after ms, or false at once when the signal aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export function networkFailure(code: string | undefined, service: string): { code: MailErrorCode; message: string } {
  switch (code) {
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return { code: "dns", message: `The ${service} host name could not be resolved.` };
    case "ECONNREFUSED":
      return { code: "refused", message: `The ${service} server refused the connection.` };
    case "ETIMEDOUT":
    case "TimeoutError":
    case "UND_ERR_CONNECT_TIMEOUT":
    case "UND_ERR_HEADERS_TIMEOUT":
      return { code: "timeout", message: `The ${service} request timed out.` };
    default:
      return { code: "network", message: `The ${service} request failed on the network.` };
  }
}

/** The first string `code` (or timeout name) along the error's cause chain. */
export function networkCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current; depth++) {
    const code = getProp(current, "code");
    if (typeof code === "string" && code !== "ERR_NETWORK") return code;
    if (getProp(current, "name") === "TimeoutError") return "TimeoutError";
    current = getProp(current, "cause");
  }
  return undefined;
}

export function getProp(value: unknown, key: string): unknown {
  return value !== null && (typeof value === "object" || typeof value === "function")
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What may go into a MailError cause or a log line: never headers, configs or tokens. */
export function describeCause(err: unknown): { name?: string; message: string; code?: string } {
  const out: { name?: string; message: string; code?: string } = { message: errorMessage(err) };
  if (err instanceof Error) out.name = err.name;
  const code = networkCode(err);
  if (code) out.code = code;
  return out;
}

/** The per-mailbox choices of issue 13 every provider reads: where to start and what to do after commit. */
export type IngestPolicy = {
  /** Baseline when no cursor is stored: unread now (default), received on/after startSince, or nothing. */
  startMode?: "unread" | "since" | "new_only";
  startSince?: Date | null;
  /** At the provider, after commit: mark read (default), leave untouched, or move to moveToFolder. */
  afterIngest?: "mark_read" | "none" | "move";
  moveToFolder?: string | null;
  /** A message above this is never fetched whole (EMAIL_MAX_MESSAGE_BYTES). */
  maxMessageBytes?: number;
  /** Which of these provider ids are already stored for the mailbox (skips re-fetching them). */
  knownIds?: (ids: string[]) => Promise<Set<string>>;
};

export const DEFAULT_MAX_MESSAGE_BYTES = 50 * 1024 * 1024;
/** How far before the newest stored message a re-baseline (expired cursor) looks again. */
export const REBASELINE_OVERLAP_MS = 24 * 3600 * 1000;
/** Without any stored receive time, a re-baseline looks this far back. */
export const REBASELINE_DEFAULT_WINDOW_MS = 3 * 24 * 3600 * 1000;

/**
 * Where a re-baseline after an expired cursor starts: a day before the newest message stored, so a
 * message that arrived while the cursor was dead is found, and the known ids / content hash keep the
 * overlap from being stored twice.
 */
export function rebaselineSince({ lastReceivedAt, now }: { lastReceivedAt?: string | undefined; now: number }): Date {
  const last = lastReceivedAt ? Date.parse(lastReceivedAt) : NaN;
  const base = Number.isNaN(last) ? now - REBASELINE_DEFAULT_WINDOW_MS + REBASELINE_OVERLAP_MS : Math.min(last, now);
  return new Date(base - REBASELINE_OVERLAP_MS);
}

/**
 * Picks the head of a queue for one batch: at most maxCount items and maxBytes of bodies (the first
 * item always goes, else one message above maxBytes would stall the queue). Too-large items cost no
 * body bytes: only their headers are fetched.
 */
export function takeBatch<T extends { size: number }>(
  items: readonly T[],
  { maxCount, maxBytes, maxMessageBytes }: { maxCount: number; maxBytes: number; maxMessageBytes: number },
): T[] {
  const out: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (out.length >= maxCount) break;
    const cost = item.size > maxMessageBytes ? 0 : item.size;
    if (out.length > 0 && bytes + cost > maxBytes) break;
    out.push(item);
    bytes += cost;
  }
  return out;
}

/** Rebuilds an RFC 5322 header block from name/value pairs (a too-large message keeps only this). */
export function buildHeaderBlock(headers: readonly { name: string; value: string }[]): Buffer {
  const lines = headers.map((h) => `${h.name}: ${h.value.replace(/\r?\n(?![ \t])/g, "\r\n ")}`);
  return Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "utf8");
}

/** The newer of two ISO times (either may be missing). */
export function laterIso(a: string | undefined, b: Date | undefined): string | undefined {
  if (!b || Number.isNaN(b.getTime())) return a;
  if (!a) return b.toISOString();
  return Date.parse(a) >= b.getTime() ? a : b.toISOString();
}

/**
 * Reconcile's fetch of named ids (Gmail/Graph): metadata first, then the bodies that fit maxBytes;
 * above maxMessageBytes only the headers (tooLarge). Ids that are gone are left out.
 */
export async function fetchIdsSized<M extends { size: number }>(
  ids: string[],
  opts: { maxBytes: number; maxMessageBytes: number; concurrency: number },
  io: { getMetadata: (id: string) => Promise<M | null>; fetchSized: (meta: M) => Promise<FetchedMessage | null> },
): Promise<FetchedMessage[]> {
  const metas = (await mapLimit(ids, opts.concurrency, io.getMetadata)).filter((m): m is M => m !== null);
  const chosen = takeBatch(metas, { maxCount: metas.length, maxBytes: opts.maxBytes, maxMessageBytes: opts.maxMessageBytes });
  const got = await mapLimit(chosen, opts.concurrency, io.fetchSized);
  return got.filter((m): m is FetchedMessage => m !== null);
}

/** Provider ids still to fetch (oldest first), with sizes looked up but left for a later batch. */
export type IdQueue<M> = { ids: string[]; meta?: Map<string, M | null> };

/**
 * One fetchNew batch off the head of a Gmail/Graph id queue: metadata first (size, so the batch is
 * bounded in bytes and a too-large message is never fetched whole), then the chosen bodies, oldest
 * first. The cursor that covers the queue stays with the provider: it is handed out only when
 * `more` is false. Ids whose metadata says they are gone are dropped without using up the batch.
 */
export async function takeQueueBatch<M extends { size: number }>(
  queue: IdQueue<M>,
  opts: { maxCount: number; maxBytes: number; maxMessageBytes: number; concurrency: number; lastReceivedAt: string | undefined },
  io: { getMetadata: (id: string) => Promise<M | null>; fetchSized: (meta: M) => Promise<FetchedMessage | null> },
): Promise<{ messages: FetchedMessage[]; more: boolean; lastReceivedAt: string | undefined; cursor: Partial<SyncState> }> {
  const maxCount = Math.max(1, opts.maxCount);
  const fetched: FetchedMessage[] = [];
  while (fetched.length === 0 && queue.ids.length > 0) {
    const head = queue.ids.slice(0, maxCount);
    // Sizes looked up but left for the next batch (byte bound) are kept, not asked again.
    const seen = (queue.meta ??= new Map());
    const metas = await mapLimit(head, opts.concurrency, (id) => (seen.has(id) ? Promise.resolve(seen.get(id) ?? null) : io.getMetadata(id)));
    const sized = metas.map((m, i) => ({ id: head[i]!, meta: m, size: m?.size ?? 0 }));
    const chosen = takeBatch(sized, { maxCount, maxBytes: opts.maxBytes, maxMessageBytes: opts.maxMessageBytes });
    queue.ids.splice(0, chosen.length);
    for (const item of chosen) seen.delete(item.id);
    for (const item of sized.slice(chosen.length)) seen.set(item.id, item.meta);
    const got = await mapLimit(chosen, opts.concurrency, (item) => (item.meta ? io.fetchSized(item.meta) : Promise.resolve(null)));
    for (const m of got) if (m) fetched.push(m);
  }
  let lastReceivedAt = opts.lastReceivedAt;
  for (const m of fetched) lastReceivedAt = laterIso(lastReceivedAt, m.receivedAt);
  const cursor: Partial<SyncState> = {};
  if (lastReceivedAt && fetched.length > 0) cursor.apiLastReceivedAt = lastReceivedAt;
  // Committed with the rows; the after-ingest action that follows the commit is covered by the
  // next batch's value, and a crash in between re-applies it at the next connect.
  const pending = fetched.filter((m) => !m.tooLarge).map((m) => m.providerMessageId);
  cursor.apiAfterIngestPending = pending.length > 0 ? pending : null;
  fetched.sort((a, b) => (a.receivedAt?.getTime() ?? 0) - (b.receivedAt?.getTime() ?? 0));
  return { messages: fetched, more: queue.ids.length > 0, lastReceivedAt, cursor };
}

/** An error body that may come as text or already parsed, read with the API's error schema; null: not that shape. */
export function parseJsonWith<S extends z.ZodType>(schema: S, data: unknown): z.infer<S> | null {
  let value = data;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return null;
    }
  }
  const parsed = schema.safeParse(value);
  return parsed.success ? (parsed.data as z.infer<S>) : null;
}

/** The ids not stored yet for the mailbox (all of them without a knownIds lookup), in their order. */
export async function withoutKnown(ids: string[], knownIds: IngestPolicy["knownIds"]): Promise<string[]> {
  if (ids.length === 0 || !knownIds) return ids;
  const known = await knownIds(ids);
  return ids.filter((id) => !known.has(id));
}

/**
 * Persists a push/sync-state patch; a failed write is logged, not thrown: memory stays right and a
 * lost write only means a redundant resync, watch or subscription call after a restart.
 */
export async function persistSyncState({
  onSyncState,
  patch,
  log,
  logName,
}: {
  onSyncState: ((patch: Partial<SyncState>) => Promise<void>) | undefined;
  patch: Partial<SyncState>;
  log: Logger | undefined;
  logName: string;
}): Promise<void> {
  if (!onSyncState) return;
  try {
    await onSyncState(patch);
  } catch (err) {
    log?.warn({ err: describeCause(err), fields: Object.keys(patch) }, `could not persist ${logName} sync state`);
  }
}
