/**
 * What the Gmail and Graph provider suites share: a provider wired to in-memory stand-ins for the
 * watcher's callbacks (token source, sync-state writer, knownIds) and the watcher's fetch loop
 * without a database. The fakes (tests/fakes) stay per API; only this plumbing is common.
 */
import type { SyncState } from "@/lib/db/schema";
import type { FetchBatch, FetchedMessage, MailProvider } from "@/lib/email/provider";

export type TokenCall = { forceRefresh?: boolean } | undefined;

export type ProviderHarness<P> = {
  provider: P;
  /** Sync-state patches the provider persisted itself (push state only: the cursor goes in FetchBatch). */
  saved: Record<string, unknown>[];
  tokenCalls: TokenCall[];
  /** What "the database" holds: knownIds answers from here, drainProvider() adds to it. */
  stored: Set<string>;
};

/** The options every API provider under test gets unless the test overrides them. */
export type HarnessOptions = {
  getAccessToken: (o?: { forceRefresh?: boolean }) => Promise<string>;
  onSyncState: (s: Partial<SyncState>) => Promise<void>;
  knownIds: (ids: string[]) => Promise<Set<string>>;
  /** new_only: each test works on the messages it adds itself, whatever earlier tests left in the fake. */
  startMode: "new_only";
  pollIntervalMs: number;
  /** Small backoff so a test without Retry-After does not sleep for seconds. */
  retry: { baseDelayMs: number };
};

export function makeProviderHarness<P>({ token, build }: { token: string; build: (options: HarnessOptions) => P }): ProviderHarness<P> {
  const saved: Record<string, unknown>[] = [];
  const tokenCalls: TokenCall[] = [];
  const stored = new Set<string>();
  const provider = build({
    getAccessToken: async (o) => {
      tokenCalls.push(o);
      return token;
    },
    onSyncState: async (s) => {
      saved.push(s);
    },
    knownIds: async (ids) => new Set(ids.filter((id) => stored.has(id))),
    startMode: "new_only",
    pollIntervalMs: 50,
    retry: { baseDelayMs: 20 },
  });
  return { provider, saved, tokenCalls, stored };
}

/** A byte bound no test message reaches. */
export const BIG = 64 * 1024 * 1024;

/** The watcher's loop without a database: fetchNew until `more` is false, "storing" each batch. */
export async function drainProvider(
  h: ProviderHarness<MailProvider>,
  opts: { maxCount?: number; maxBytes?: number } = {},
): Promise<{ messages: FetchedMessage[]; batches: FetchBatch[] }> {
  const batches: FetchBatch[] = [];
  for (;;) {
    const batch = await h.provider.fetchNew({ maxCount: opts.maxCount ?? 50, maxBytes: opts.maxBytes ?? BIG });
    batches.push(batch);
    for (const m of batch.messages) h.stored.add(m.providerMessageId);
    if (!batch.more) break;
  }
  return { messages: batches.flatMap((b) => b.messages), batches };
}
