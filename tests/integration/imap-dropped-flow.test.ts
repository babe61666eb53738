/**
 * Issue 13, item 6, on several mailboxes behind one server endpoint (real Dovecot, real PostgreSQL,
 * the real watcher process on its DEFAULT liveness settings):
 * - a really dropped flow (NAT/firewall state lost: the packets vanish, tests/harness/flow-blackhole.ts)
 *   is found by TCP keepalive within seconds, and only that mailbox reconnects;
 * - a frozen middlebox (its kernel still ACKs, tests/harness/tcp-relay.ts) is found by the
 *   endpoint's sentinel, and every other mailbox on that endpoint is asked at once rather than
 *   after its own passive bound (endpoint-sentinel.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { useFreshDatabase } from "@/tests/harness/database";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { blackholeFlow, listClientPorts, restoreAllFlows } from "@/tests/harness/flow-blackhole";
import { savePlainImapMailbox, waitForMailboxStatus } from "@/tests/harness/imap-mailbox";
import { waitFor } from "@/tests/harness/ports";
import { startTcpRelay, type TcpRelay } from "@/tests/harness/tcp-relay";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";

const database = await useFreshDatabase();
const { createTenant } = await import("@/lib/db/queries/tenants");
const { countMailboxMessages } = await import("@/lib/db/queries/messages");
const { listRecentEvents } = await import("@/lib/db/queries/mailbox-events");
const { closeDb } = await import("@/lib/db/client");

const TWO_MINUTES = 120_000;
const groups = { dropped: ["drop1", "drop2", "drop3"], frozen: ["frozen1", "frozen2", "frozen3"] };
const users = [...groups.dropped, ...groups.frozen].map((name) => ({ name, password: `${name}-secret` }));

let dovecot: DovecotInstance;
let watcher: WatcherProcess;
const relays: TcpRelay[] = [];

type Connected = { user: string; mailboxId: string };

/** Three mailboxes of three tenants, all through one relay (one endpoint), connected and idling with one message each. */
async function connectThrough(relay: TcpRelay, names: string[]): Promise<Connected[]> {
  const mailboxes: Connected[] = [];
  for (const user of names) {
    await dovecot.append(user, makeMessage({ subject: `${user} before` }));
    const tenant = await createTenant({ name: `Hotel ${user}` });
    const mailboxId = await savePlainImapMailbox({ tenantId: tenant.id, host: "127.0.0.1", port: relay.port, user, password: `${user}-secret` });
    mailboxes.push({ user, mailboxId });
  }
  for (const { mailboxId } of mailboxes) {
    await waitForMailboxStatus(mailboxId, "connected");
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) === 1, { timeoutMs: 20_000, what: "the first message" });
  }
  // Idling now: the next byte on each flow is the server's, or a question.
  await waitFor(async () => (await listClientPorts(relay.port)).length === names.length, { timeoutMs: 10_000, what: "one connection per mailbox" });
  await new Promise((r) => setTimeout(r, 1000));
  return mailboxes;
}

/** Delivers one message to each user and returns, per mailbox, how long after `since` it was stored. */
async function deliverAndTime(mailboxes: Connected[], since: number): Promise<Map<string, number>> {
  for (const { user } of mailboxes) await dovecot.append(user, makeMessage({ subject: `${user} after` }));
  const storedAfter = new Map<string, number>();
  await waitFor(
    async () => {
      for (const { user, mailboxId } of mailboxes) {
        if (!storedAfter.has(user) && (await countMailboxMessages({ mailboxId })) === 2) storedAfter.set(user, Date.now() - since);
      }
      return storedAfter.size === mailboxes.length;
    },
    { timeoutMs: 3 * 60_000, intervalMs: 100, what: "every message delivered after the failure" },
  );
  return storedAfter;
}

async function eventKinds(mailboxId: string): Promise<string[]> {
  return (await listRecentEvents({ mailboxId, limit: 20 })).map((e) => e.kind).reverse();
}

before(async () => {
  dovecot = await startDovecot({ users });
  // Liveness on its defaults (this process sets none of it); only the retry backoff is short.
  watcher = await startWatcherProcess({ DATABASE_URL: database.url, EMAIL_BACKOFF_MIN_SECONDS: "1", EMAIL_BACKOFF_MAX_SECONDS: "2" });
});

after(async () => {
  await restoreAllFlows();
  await watcher?.stop();
  for (const relay of relays) await relay.close();
  await dovecot?.stop();
  await closeDb();
  await database.drop();
});

describe("several mailboxes on one IMAP endpoint (watcher process, default settings)", () => {
  it("one flow really dropped (packets vanish): found by TCP keepalive in seconds; only that mailbox reconnects", async () => {
    const relay = await startTcpRelay({ targetPort: dovecot.imapPort });
    relays.push(relay);
    const mailboxes = await connectThrough(relay, groups.dropped);
    const ports = await listClientPorts(relay.port);
    assert.equal(relay.accepted, 3);
    const droppedAt = Date.now();
    const hole = await blackholeFlow({ clientPort: ports[0] as number, serverPort: relay.port });
    const storedAfter = await deliverAndTime(mailboxes, droppedAt);
    await hole.restore();
    console.log(`dropped flow -> stored: ${[...storedAfter].map(([u, ms]) => `${u} ${ms} ms`).join(", ")} (defaults)`);
    // imapflow's keepalive (5 s) plus Linux's probes as libuv sets them (10 at 1 s): ~15 s, then a reconnect.
    for (const ms of storedAfter.values()) assert.ok(ms < 60_000, `took ${ms} ms`);
    // Exactly one new connection: the two healthy flows were never given up.
    assert.equal(relay.accepted, 4);
    const histories = await Promise.all(mailboxes.map(({ mailboxId }) => eventKinds(mailboxId)));
    const reconnected = histories.filter((kinds) => kinds.length > 1);
    assert.equal(reconnected.length, 1, `event histories: ${JSON.stringify(histories)}`);
    assert.deepEqual(reconnected[0], ["connected", "disconnected", "error", "connected"]);
    assert.deepEqual(histories.filter((kinds) => kinds.length === 1), [["connected"], ["connected"]]);
  });

  it("a frozen middlebox in front of three mailboxes: the sentinel finds it and the others are asked at once", async () => {
    const relay = await startTcpRelay({ targetPort: dovecot.imapPort });
    relays.push(relay);
    const mailboxes = await connectThrough(relay, groups.frozen);
    const frozenAt = Date.now();
    relay.freeze();
    const storedAfter = await deliverAndTime(mailboxes, frozenAt);
    const times = [...storedAfter.values()];
    console.log(`frozen endpoint -> stored: ${[...storedAfter].map(([u, ms]) => `${u} ${ms} ms`).join(", ")} (defaults)`);
    // Sentinel bound 90 s (less jitter) + its probe 10 s + the others' probe 10 s, then reconnects.
    for (const ms of times) assert.ok(ms < TWO_MINUTES, `took ${ms} ms`);
    // The others did not wait for their own 122-130 s passive bound: they followed within the probe timeout.
    assert.ok(Math.max(...times) - Math.min(...times) < 30_000, `spread ${Math.max(...times) - Math.min(...times)} ms`);
    assert.equal(relay.accepted, 6);
    for (const { mailboxId } of mailboxes) {
      await waitForMailboxStatus(mailboxId, "connected");
      assert.deepEqual(await eventKinds(mailboxId), ["connected", "disconnected", "error", "connected"]);
    }
  });
});
