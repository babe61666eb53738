/**
 * New mail to stored, for Gmail API and Graph mailboxes run by the real watcher, with push on
 * (fake Pub/Sub push with a signed OIDC token → /api/webhooks/gmail; fake Graph notification →
 * /api/webhooks/graph; the built web app NOTIFYs the watcher) against the baseline of the same
 * providers polling history / delta every second, measured in the same run. With push on, polling
 * is set to 60 s, so a message stored within a second came by push.
 *
 *   npx next build   # once: the webhook routes run in the built app
 *   npx tsx bench/push-latency.ts [--messages 20] [--gap-ms 300]
 */
import { parseArgs } from "node:util";
import { OAuth2Server } from "oauth2-mock-server";
import { startGmailFake } from "@/tests/fakes/gmail-fake";
import { sampleMime } from "@/tests/fakes/sample-mime";
import { startGraphFake } from "@/tests/fakes/graph-fake";
import { createApiMailbox } from "@/tests/harness/api-mailbox";
import { startTestWebApp } from "@/tests/harness/oauth-app";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";
import { median, percentile, startBenchDatabase } from "./peers";

const { values } = parseArgs({ options: { messages: { type: "string", default: "20" }, "gap-ms": { type: "string", default: "300" } } });
const count = Number(values.messages);
const gapMs = Number(values["gap-ms"]);
const PUSH_ACCOUNT = "bench-push@fake-project.iam.gserviceaccount.com";

const db = await startBenchDatabase();
const { getMailboxById, updateMailboxAndNotify } = await import("@/lib/db/queries/mailboxes");
const { countMailboxMessages } = await import("@/lib/db/queries/messages");
const { closeDb } = await import("@/lib/db/client");

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const oidc = new OAuth2Server();
await oidc.issuer.keys.generate("RS256");
await oidc.start(0, "127.0.0.1");
const gmail = await startGmailFake({ tokens: [] });
const graph = await startGraphFake({ tokens: [] });
const app = await startTestWebApp({
  DATABASE_URL: db.url,
  LOG_LEVEL: "warn",
  GMAIL_PUSH_SERVICE_ACCOUNT: PUSH_ACCOUNT,
  GOOGLE_OIDC_JWKS_URL: `${oidc.issuer.url}/jwks`,
  GOOGLE_OIDC_ISSUER: oidc.issuer.url ?? "",
});
gmail.setPushEndpoint(`${app.url}/api/webhooks/gmail`, {
  authorization: async () =>
    `Bearer ${await oidc.issuer.buildToken({
      scopesOrTransform: (_h, payload) => {
        Object.assign(payload, { aud: `${app.url}/api/webhooks/gmail`, email: PUSH_ACCOUNT, email_verified: true });
      },
    })}`,
});

type Mode = "push" | "poll_1s";

function watcherEnv(mode: Mode): Record<string, string> {
  const common = { DATABASE_URL: db.url, LOG_LEVEL: "warn", GMAIL_API_BASE_URL: gmail.rootUrl, GRAPH_API_BASE_URL: graph.baseUrl };
  if (mode === "poll_1s") return { ...common, GMAIL_POLL_SECONDS: "1", GRAPH_POLL_SECONDS: "1" };
  return {
    ...common,
    GMAIL_PUBSUB_TOPIC: "projects/fake-project/topics/gmail",
    GRAPH_NOTIFICATION_URL: `${app.url}/api/webhooks/graph`,
    GMAIL_POLL_SECONDS: "60",
    GRAPH_POLL_SECONDS: "60",
    API_PUSH_FALLBACK_POLL_SECONDS: "60",
    EMAIL_RECONCILE_SECONDS: "600",
  };
}

async function measure(mode: Mode, provider: "google" | "microsoft"): Promise<number[]> {
  const user = `${mode}-${provider}@bench.test`;
  const token = `${mode}-${provider}-token`;
  if (provider === "google") gmail.setValidTokens([token], user);
  else graph.setValidTokens([token], user);
  const { mailboxId, tenantId } = await createApiMailbox({ provider, email: user, token });
  while ((await getMailboxById({ mailboxId }))?.status !== "connected") await sleep(20);
  // Let the first poll round (and the push registration) finish before the clock starts.
  await sleep(1500);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    if (provider === "google") gmail.addMessage(user, sampleMime(`${mode} ${i}`));
    else graph.addMessage(user, sampleMime(`${mode} ${i}`));
    while ((await countMailboxMessages({ mailboxId })) < i + 1) await sleep(5);
    out.push(performance.now() - t0);
    await sleep(gapMs);
  }
  await updateMailboxAndNotify({ mailboxId, tenantId, fields: { enabled: false } });
  return out;
}

const summary = (xs: number[]): { median: number; p95: number; max: number } => ({
  median: Math.round(median(xs)),
  p95: Math.round(percentile(xs, 95)),
  max: Math.round(Math.max(...xs)),
});

let watcher: WatcherProcess | undefined;
try {
  const results: Record<string, Record<string, ReturnType<typeof summary>>> = {};
  for (const mode of ["poll_1s", "push"] as const) {
    watcher = await startWatcherProcess(watcherEnv(mode));
    results[mode] = { gmail: summary(await measure(mode, "google")), graph: summary(await measure(mode, "microsoft")) };
    await watcher.stop();
    watcher = undefined;
  }
  const ratio = (p: "gmail" | "graph"): number => Math.round(((results.push?.[p]?.median ?? 0) / (results.poll_1s?.[p]?.median ?? 1)) * 100) / 100;
  console.log(
    JSON.stringify(
      { messages: count, gap_ms: gapMs, new_mail_to_stored_ms: results, ratio_push_to_poll_1s_median: { gmail: ratio("gmail"), graph: ratio("graph") } },
      null,
      2,
    ),
  );
} finally {
  await watcher?.stop();
  await app.stop();
  await gmail.close();
  await graph.close();
  await oidc.stop();
  await closeDb();
  await db.stop();
}
