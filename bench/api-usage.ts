/**
 * API calls and quota units per ingested message for the Gmail API and Microsoft Graph providers,
 * measured against the local fakes (tests/fakes). Counts come from the providers' own `usage`
 * counters, i.e. every HTTP request they send. No database: "ingest" is fetchNew + applyAfterIngest,
 * the provider side of the pipeline.
 *
 *   node --import tsx bench/api-usage.ts [--messages 200] [--batch 50] [--live 20]
 *
 * Scenarios per provider:
 * - backlog: N unread messages waiting at connect; fetchNew(batch) + applyAfterIngest (mark read) until done.
 * - live:    messages arriving one at a time while the loop waits (waitForChange polling), each
 *            detected, fetched and marked read before the next arrives.
 * - idle:    one waitForChange poll with nothing new (the steady cost per poll interval).
 */
import { parseArgs } from "node:util";
import { GmailProvider } from "@/lib/email/gmail/gmail-provider";
import { GraphProvider } from "@/lib/email/graph/graph-provider";
import type { MailProvider } from "@/lib/email/provider";
import { startGmailFake } from "@/tests/fakes/gmail-fake";
import { sampleMime } from "@/tests/fakes/sample-mime";
import { startGraphFake } from "@/tests/fakes/graph-fake";

type Usage = { calls: number; quotaUnits: number };
type Measured = { messages: number; calls: number; quotaUnits: number; callsPerMessage: number; quotaUnitsPerMessage: number };
type UsageProvider = MailProvider & { usage: Usage };

const { values } = parseArgs({
  options: { messages: { type: "string", default: "200" }, batch: { type: "string", default: "50" }, live: { type: "string", default: "20" } },
});
const MESSAGES = Number(values.messages);
const BATCH = Number(values.batch);
const LIVE = Number(values.live);
const signal = new AbortController().signal;

function delta(before: Usage, after: Usage, messages: number): Measured {
  const calls = after.calls - before.calls;
  const quotaUnits = after.quotaUnits - before.quotaUnits;
  const round = (n: number): number => Math.round(n * 1000) / 1000;
  return { messages, calls, quotaUnits, callsPerMessage: round(calls / Math.max(1, messages)), quotaUnitsPerMessage: round(quotaUnits / Math.max(1, messages)) };
}

/** What "the database" holds: the providers' knownIds look here, as they would at the stored rows. */
const stored = new Set<string>();
const knownIds = async (ids: string[]): Promise<Set<string>> => new Set(ids.filter((id) => stored.has(id)));

async function drain(provider: MailProvider): Promise<number> {
  let ingested = 0;
  for (;;) {
    const batch = await provider.fetchNew({ maxCount: BATCH, maxBytes: 64 * 1024 * 1024 });
    const ids = batch.messages.map((m) => m.providerMessageId);
    for (const id of ids) stored.add(id);
    if (ids.length > 0) await provider.applyAfterIngest(ids);
    ingested += ids.length;
    if (!batch.more) return ingested;
  }
}

async function scenarios(provider: UsageProvider, addMessage: (i: number) => void): Promise<Record<string, Measured>> {
  const snapshot = (): Usage => ({ ...provider.usage });
  const result: Record<string, Measured> = {};

  for (let i = 0; i < MESSAGES; i++) addMessage(i);
  let before = snapshot();
  await provider.connect();
  const backlog = await drain(provider);
  if (backlog !== MESSAGES) throw new Error(`backlog: ingested ${backlog} of ${MESSAGES}`);
  result.backlog = delta(before, snapshot(), backlog);

  // Settle the change cursor (Gmail history / Graph delta) past the backlog before measuring.
  while ((await provider.waitForChange({ timeoutMs: 1, signal })) === "changed") await drain(provider);

  before = snapshot();
  let live = 0;
  for (let i = 0; i < LIVE; i++) {
    setTimeout(() => addMessage(MESSAGES + i), 5);
    const r = await provider.waitForChange({ timeoutMs: 30_000, signal });
    if (r !== "changed") throw new Error(`live: waitForChange returned ${r}`);
    live += await drain(provider);
    // Our own mark-read must not count as a change: one idle poll returns timeout.
    if ((await provider.waitForChange({ timeoutMs: 1, signal })) !== "timeout") throw new Error("live: self-change detected");
  }
  result.live = delta(before, snapshot(), live);

  before = snapshot();
  await provider.waitForChange({ timeoutMs: 1, signal });
  const idle = delta(before, snapshot(), 1);
  result.idlePoll = idle;
  await provider.disconnect();
  return result;
}

const gmailFake = await startGmailFake({ tokens: ["bench-token"] });
const gmail = new GmailProvider({ rootUrl: gmailFake.rootUrl, getAccessToken: async () => "bench-token", pollIntervalMs: 20, knownIds });
const gmailResult = await scenarios(gmail, (i) => gmailFake.addMessage(gmailFake.defaultUser, sampleMime(`bench ${i}`)));
await gmailFake.close();

const graphFake = await startGraphFake({ tokens: ["bench-token"] });
const graph = new GraphProvider({ baseUrl: graphFake.baseUrl, getAccessToken: async () => "bench-token", pollIntervalMs: 20, knownIds });
const graphResult = await scenarios(graph, (i) => graphFake.addMessage(graphFake.defaultUser, sampleMime(`bench ${i}`)));
await graphFake.close();

console.log(
  JSON.stringify(
    {
      params: { messages: MESSAGES, fetchBatch: BATCH, liveMessages: LIVE },
      gmail: { quotaUnitMeaning: "Gmail API quota units", ...gmailResult },
      graph: { quotaUnitMeaning: "requests as Graph throttling counts them ($batch items count singly)", ...graphResult },
    },
    null,
    2,
  ),
);
