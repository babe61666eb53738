/**
 * Issue 13, item 6: a network path that goes silent without FIN/RST (a dropped NAT/firewall flow)
 * is detected and reconnected, and servers that never greet cannot hang the watcher or the Test
 * button. Real Dovecot, real PostgreSQL, the real watcher process with its DEFAULT liveness settings
 * (95 s IDLE / 60 s polling silence less up to 15 s jitter, 10 s NOOP probe, 30 s command timeout,
 * an immediate first reconnect); tests/harness/tcp-relay.ts plays the
 * dead middlebox.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { useFreshDatabase } from "@/tests/harness/database";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { waitFor } from "@/tests/harness/ports";
import { startTcpRelay, type TcpRelay } from "@/tests/harness/tcp-relay";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";
import { type MailboxExtra, savePlainImapMailbox, waitForMailboxStatus } from "@/tests/harness/imap-mailbox";

// The Test button runs in this process: short budgets so its bound is checked in seconds.
process.env.EMAIL_CONNECT_TIMEOUT_SECONDS = "2";
process.env.EMAIL_COMMAND_TIMEOUT_SECONDS = "3";

const database = await useFreshDatabase();
const { createTenant } = await import("@/lib/db/queries/tenants");
const { getMailboxById } = await import("@/lib/db/queries/mailboxes");
const { countMailboxMessages } = await import("@/lib/db/queries/messages");
const { listRecentEvents } = await import("@/lib/db/queries/mailbox-events");
const { testImapConnection } = await import("@/lib/mailboxes/check-connection");
const { testPop3Connection } = await import("@/lib/mailboxes/check-pop3-connection");
const { closeDb } = await import("@/lib/db/client");

const THREE_MINUTES = 180_000;
const users = ["idle", "poll", "silent", "trickle", "crash"].map((name) => ({ name, password: `${name}-secret` }));

let dovecot: DovecotInstance;
let watcher: WatcherProcess;
const relays: TcpRelay[] = [];

async function relayTo(mode: "relay" | "silent" | "trickle" = "relay"): Promise<TcpRelay> {
  const relay = await startTcpRelay({ targetPort: dovecot.imapPort, mode });
  relays.push(relay);
  return relay;
}

async function configure(user: string, port: number, extra: MailboxExtra = {}): Promise<string> {
  const tenant = await createTenant({ name: `Hotel ${user}` });
  return savePlainImapMailbox({ tenantId: tenant.id, host: "127.0.0.1", port, user, password: `${user}-secret`, extra });
}

/**
 * Freezes the path of a connected, idling mailbox, delivers one message straight to Dovecot and
 * waits for it to be stored, watching the mailbox's health meanwhile.
 */
async function freezeAndDeliver(
  user: string,
  mailboxId: string,
  relay: TcpRelay,
): Promise<{ detectionMs: number; statuses: string[]; errors: string[] }> {
  // The first message (delivered before the mailbox was saved) proves the path works and leaves the
  // connection freshly idle: the freeze comes right after the server's last byte, the worst case.
  await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 1, { timeoutMs: 15_000, what: "the first message" });
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(relay.accepted, 1);
  const frozenAt = Date.now();
  relay.freeze();
  await dovecot.append(user, makeMessage({ subject: `${user} after the freeze` }));
  const statuses: string[] = [];
  const errors: string[] = [];
  await waitFor(
    async () => {
      const row = await getMailboxById({ mailboxId });
      if (row && statuses.at(-1) !== row.status) statuses.push(row.status);
      if (row?.lastError && !errors.includes(row.lastError)) errors.push(row.lastError);
      return (await countMailboxMessages({ mailboxId })) === 2;
    },
    { timeoutMs: THREE_MINUTES, intervalMs: 100, what: "the message delivered after the freeze" },
  );
  return { detectionMs: Date.now() - frozenAt, statuses, errors };
}

before(async () => {
  dovecot = await startDovecot({ users });
  watcher = await startWatcherProcess({
    DATABASE_URL: database.url,
    EMAIL_BACKOFF_MIN_SECONDS: "1",
    EMAIL_BACKOFF_MAX_SECONDS: "2",
    // The short budgets above are for this process's Test calls only: the watcher runs on defaults.
    EMAIL_CONNECT_TIMEOUT_SECONDS: undefined,
    EMAIL_COMMAND_TIMEOUT_SECONDS: undefined,
    EMAIL_IDLE_SILENCE_SECONDS: undefined,
  });
});

after(async () => {
  await watcher?.stop();
  for (const relay of relays) await relay.close();
  await dovecot?.stop();
  await closeDb();
  await database.drop();
});

describe("IMAP live-connection checks (watcher process, default settings)", () => {
  it("a frozen path (no FIN/RST) under IDLE and under polling: mail delivered after the freeze is stored within 3 minutes", async () => {
    const idleRelay = await relayTo();
    const pollRelay = await relayTo();
    // Polling every 10 minutes: only the silence check can find the dead path in time.
    await dovecot.append("idle", makeMessage({ subject: "idle before the freeze" }));
    await dovecot.append("poll", makeMessage({ subject: "poll before the freeze" }));
    const idleId = await configure("idle", idleRelay.port);
    const pollId = await configure("poll", pollRelay.port, { useIdle: false, pollIntervalSeconds: 600 });
    await Promise.all([waitForMailboxStatus(idleId, "connected"), waitForMailboxStatus(pollId, "connected")]);
    const [idle, poll] = await Promise.all([
      freezeAndDeliver("idle", idleId, idleRelay),
      freezeAndDeliver("poll", pollId, pollRelay),
    ]);
    console.log(`freeze -> next message stored: IDLE ${idle.detectionMs} ms, polling ${poll.detectionMs} ms (defaults)`);
    // Issue 13 item 6: a frozen endpoint within 2 minutes. This IDLE connection is the only one to
    // its relay, so it is that endpoint's sentinel (EMAIL_IDLE_SENTINEL_SECONDS, 90 s).
    assert.ok(idle.detectionMs < 120_000, `IDLE took ${idle.detectionMs} ms`);
    for (const [result, relay, mailboxId] of [
      [idle, idleRelay, idleId],
      [poll, pollRelay, pollId],
    ] as const) {
      assert.ok(result.detectionMs < THREE_MINUTES);
      // The health showed what happened: an error naming the silent server, then a new connection.
      assert.ok(result.statuses.includes("error"), `statuses seen: ${result.statuses.join(", ")}`);
      const noAnswer = new RegExp(`^No answer from 127\\.0\\.0\\.1:${relay.port} for \\d+ s \\(.+\\): the connection was dropped on the way without being closed; trying again\\.$`);
      assert.ok(result.errors.some((e) => noAnswer.test(e)), `errors seen: ${result.errors.join(" | ")}`);
      assert.equal(relay.accepted, 2);
      await waitForMailboxStatus(mailboxId, "connected");
      assert.equal((await getMailboxById({ mailboxId }))?.lastError, null);
      const kinds = (await listRecentEvents({ mailboxId, limit: 20 })).map((e) => e.kind).reverse();
      assert.deepEqual(kinds, ["connected", "disconnected", "error", "connected"]);
    }
  });

  it("servers that accept but never greet, or greet without end: error status with the reason, watcher stays up", async () => {
    const silentRelay = await relayTo("silent");
    const trickleRelay = await relayTo("trickle");
    const silentId = await configure("silent", silentRelay.port);
    const trickleId = await configure("trickle", trickleRelay.port);
    // Default connect timeout 15 s, then the command-silence budget (30 s): bounded, no hang.
    await Promise.all([waitForMailboxStatus(silentId, "error", 60_000), waitForMailboxStatus(trickleId, "error", 60_000)]);
    assert.equal((await getMailboxById({ mailboxId: silentId }))?.lastError, `The mail server at 127.0.0.1:${silentRelay.port} did not answer in time.`);
    const trickleError = (await getMailboxById({ mailboxId: trickleId }))?.lastError ?? "";
    console.log(`endless greeting: ${trickleError}`);
    assert.match(trickleError, new RegExp(`127\\.0\\.0\\.1:${trickleRelay.port}`));
    assert.ok((await fetch(`http://127.0.0.1:${watcher.port}/health`)).ok);
    assert.equal(watcher.child.exitCode, null);
    // It keeps retrying (backoff), each attempt bounded: a later attempt means the earlier one ended.
    await waitFor(() => silentRelay.accepted >= 2 && trickleRelay.accepted >= 2, { timeoutMs: 90_000, what: "a second attempt" });
  });

  it("the Test button against a silent and a trickling server answers within its budget", async () => {
    const silentRelay = await relayTo("silent");
    const trickleRelay = await relayTo("trickle");
    const target = { protocol: "imap" as const, host: "127.0.0.1", useSsl: false, tlsMode: "none" as const, allowInvalidCertificate: false, folder: "INBOX", auth: { user: "idle", pass: "idle-secret" } };
    for (const relay of [silentRelay, trickleRelay]) {
      const started = Date.now();
      const result = await testImapConnection({ ...target, port: relay.port });
      const tookMs = Date.now() - started;
      assert.deepEqual(result, { ok: false, error: { code: "timeout", message: `The mail server at 127.0.0.1:${relay.port} did not answer in time.` } });
      // Budget: connect 2 s + command 3 s, plus the 2 s polite LOGOUT at most (x3 for a loaded machine).
      assert.ok(tookMs < 20_000, `took ${tookMs} ms`);
    }
    // The same bounded path still answers a live server, through a relay and directly.
    const healthy = await relayTo();
    const live = await testImapConnection({ ...target, port: healthy.port });
    assert.deepEqual(live, { ok: true, folder: "INBOX", exists: 2, unseen: 0, start_counts: { unread: 0, since: null, total: 2 } });
    const pop3Live = await testPop3Connection({ ...target, protocol: "pop3", port: dovecot.pop3Port });
    assert.deepEqual(pop3Live, { ok: true, folder: "INBOX", exists: 2, unseen: 2 });
    const started = Date.now();
    const pop3 = await testPop3Connection({ ...target, protocol: "pop3", port: silentRelay.port });
    assert.equal(pop3.ok, false);
    assert.equal(!pop3.ok && pop3.error.code, "timeout");
    assert.ok(Date.now() - started < 20_000);
  });

  it("an uncaught exception in the watcher process is logged with its event name and exits 1", async () => {
    const crashing = await startWatcherProcess({
      DATABASE_URL: database.url,
      NODE_OPTIONS: `--import ${pathToFileURL(path.join(import.meta.dirname, "..", "harness", "throw-later.mjs")).href}`,
    });
    const exited = new Promise<number | null>((resolve) => crashing.child.on("exit", (c) => resolve(c)));
    crashing.child.kill("SIGUSR2");
    const code = await exited;
    assert.equal(code, 1);
    const fatal = crashing.logs.map((l) => { try { return JSON.parse(l) as { event?: string; msg?: string }; } catch { return {}; } }).find((l) => l.event === "uncaught_exception");
    assert.equal(fatal?.msg, "uncaught exception: shutting down to restart clean");
    // The main watcher was never disturbed.
    assert.ok((await fetch(`http://127.0.0.1:${watcher.port}/health`)).ok);
  });
});
