import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { apiWatcherEnv, fakeAccount, type FakeAccount } from "@/tests/harness/api-fake-account";
import { createApiMailbox } from "@/tests/harness/api-mailbox";
import { useFreshDatabase } from "@/tests/harness/database";
import { killMidBacklog, waitForBacklogs, type BacklogProbe } from "@/tests/harness/kill-mid-backlog";
import { waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";
import { startGmailFake, type GmailFake } from "@/tests/fakes/gmail-fake";
import { startGraphFake, type GraphFake } from "@/tests/fakes/graph-fake";

/**
 * Issue 13 acceptance: each first-connect choice imports exactly what it promises on a mailbox with
 * read and unread history, each after-ingest action leaves the mailbox as promised, and a kill -9 in
 * the middle of the backlog still ends with every message exactly once (Gmail and Graph fakes, the
 * real watcher process). While the watcher is dead, some of the backlog not yet imported is read in
 * another client and new mail (read and unread) arrives: the restart must not depend on \Seen, and
 * the reconcile (every 2 s here) must not import the history the start mode left out.
 */

const database = await useFreshDatabase();
const { getMailboxById } = await import("@/lib/db/queries/mailboxes");
const { countMailboxMessages, listMessages } = await import("@/lib/db/queries/messages");
const { closeDb } = await import("@/lib/db/client");

let gmail: GmailFake;
let graph: GraphFake;
let watcher: WatcherProcess | undefined;

const N = 120;

const watcherEnv = (): Record<string, string> =>
  apiWatcherEnv({
    databaseUrl: database.url,
    gmail,
    graph,
    // Small batches: many commits, so the kill lands in the middle of every backlog.
    batchSize: 5,
    // The reconcile runs after every drain: it must not import what the start mode left out.
    extra: { EMAIL_RECONCILE_SECONDS: "2" },
  });

before(async () => {
  gmail = await startGmailFake({ tokens: [] });
  graph = await startGraphFake({ tokens: [] });
});

after(async () => {
  await watcher?.stop();
  await gmail?.close();
  await graph?.close();
  await closeDb();
  await database.drop();
});

type Kind = "gmail" | "graph";
/** A fake account with its move target: Gmail label "Processed", Graph's well-known archive. */
type Account = FakeAccount & { moveToFolder: string; inMoveTarget: (id: string) => boolean };

let accounts = 0;
function account(kind: Kind): Account {
  const a = fakeAccount({ kind, name: `crash-${++accounts}`, gmail, graph });
  if (kind === "gmail") {
    const processed = gmail.createLabel(a.email, "Processed");
    return { ...a, moveToFolder: "Processed", inMoveTarget: (id) => Boolean(gmail.messages(a.email).find((m) => m.id === id)?.labelIds.includes(processed)) };
  }
  const archive = graph.folderId(a.email, "archive");
  return { ...a, moveToFolder: "archive", inMoveTarget: (id) => graph.messages(a.email).find((m) => m.id === id)?.folderId === archive };
}

type Case = "unread+mark_read" | "since+leave" | "new_only+move";
type Box = {
  kind: Kind;
  name: Case;
  a: Account;
  mailboxId: string;
  tenantId: string;
  /** Subject -> provider id of everything the start mode promises (plus mail while down, later). */
  expected: Map<string, string>;
  /** Provider id -> read before the import (since+leave must leave it so). */
  readBefore: Map<string, boolean>;
  /** History the start mode leaves out: never stored, left as it was. */
  excluded: Map<string, string>;
};

const hoursAgo = (h: number): Date => new Date(Math.floor(Date.now() / 1000) * 1000 - h * 3600_000);

async function storedSubjects(tenantId: string): Promise<string[]> {
  return (await listMessages({ tenantId, limit: 5000 })).map((m) => m.subject ?? "");
}

describe("kill -9 during a first import (Gmail, Graph): every message exactly once under each start mode and after-ingest action", () => {
  it("unread + mark_read, since + leave, new_only + move", async () => {
    const boxes: Box[] = [];
    const kinds: Kind[] = ["gmail", "graph"];
    const history = (a: Account, tag: string, excluded: Map<string, string>, opts: { at: Date }): void => {
      for (let i = 0; i < 3; i++) {
        excluded.set(`${tag} old read ${i}`, a.add(`${tag} old read ${i}`, { read: true, at: opts.at }));
        excluded.set(`${tag} old unread ${i}`, a.add(`${tag} old unread ${i}`, { at: opts.at }));
      }
    };

    // new_only needs its baseline before the backlog arrives: a first watcher takes it, then stops.
    watcher = await startWatcherProcess(watcherEnv());
    for (const kind of kinds) {
      const a = account(kind);
      const excluded = new Map<string, string>();
      history(a, `${kind} new_only`, excluded, { at: hoursAgo(2) });
      const box = await createApiMailbox({
        provider: kind === "gmail" ? "google" : "microsoft",
        email: a.email,
        token: a.token,
        fields: { startMode: "new_only", afterIngest: "move", moveToFolder: a.moveToFolder },
      });
      boxes.push({ kind, name: "new_only+move", a, ...box, expected: new Map(), readBefore: new Map(), excluded });
    }
    for (const b of boxes) {
      await waitFor(async () => Boolean(b.a.cursor((await getMailboxById({ mailboxId: b.mailboxId }))?.syncState)), {
        timeoutMs: 30_000,
        what: `the ${b.kind} new_only baseline`,
      });
    }
    await watcher.stop();
    for (const b of boxes) {
      for (let i = 0; i < N; i++) {
        const subject = `${b.kind} new_only backlog ${i}`;
        b.expected.set(subject, b.a.add(subject, { read: i % 3 === 0 }));
      }
    }

    for (const kind of kinds) {
      const provider = kind === "gmail" ? "google" : "microsoft";
      {
        // unread: the unread mail there now, whatever its age; the read history stays out. The
        // backlog is older than the reconcile window (72 h), so only the import itself can find it.
        const a = account(kind);
        const excluded = new Map<string, string>();
        for (let i = 0; i < 4; i++) excluded.set(`${kind} unread history read ${i}`, a.add(`${kind} unread history read ${i}`, { read: true, at: hoursAgo(30) }));
        const expected = new Map<string, string>();
        for (let i = 0; i < N; i++) {
          const subject = `${kind} unread backlog ${i}`;
          expected.set(subject, a.add(subject, { at: hoursAgo(100) }));
        }
        const box = await createApiMailbox({ provider, email: a.email, token: a.token, fields: { startMode: "unread", afterIngest: "mark_read" } });
        boxes.push({ kind, name: "unread+mark_read", a, ...box, expected, readBefore: new Map(), excluded });
      }
      {
        // since: everything received on/after the date, read or unread; older mail stays out.
        const a = account(kind);
        const excluded = new Map<string, string>();
        history(a, `${kind} since`, excluded, { at: hoursAgo(48) });
        const expected = new Map<string, string>();
        const readBefore = new Map<string, boolean>();
        for (let i = 0; i < N; i++) {
          const subject = `${kind} since backlog ${i}`;
          const read = i % 2 === 0;
          const id = a.add(subject, { read, at: hoursAgo(2) });
          expected.set(subject, id);
          readBefore.set(id, read);
        }
        const box = await createApiMailbox({ provider, email: a.email, token: a.token, fields: { startMode: "since", startSince: hoursAgo(24), afterIngest: "none" } });
        boxes.push({ kind, name: "since+leave", a, ...box, expected, readBefore, excluded });
      }
    }

    const label = (b: Box): string => `${b.kind} ${b.name}`;
    const probes = (): BacklogProbe[] =>
      boxes.map((b) => ({ label: label(b), stored: () => countMailboxMessages({ mailboxId: b.mailboxId }), total: b.expected.size }));

    watcher = await startWatcherProcess(watcherEnv());
    await killMidBacklog({ watcher, probes: probes(), atLeast: 10 });

    // While the watcher is dead: part of what it has not imported yet is read in another client,
    // and new mail arrives, one of it read at once.
    for (const b of boxes) {
      const stored = new Set(await storedSubjects(b.tenantId));
      const pending = [...b.expected].filter(([subject]) => !stored.has(subject));
      assert.ok(pending.length >= 5, `${label(b)}: enough left to read elsewhere`);
      for (const [, id] of pending.slice(-5)) {
        if (b.name === "since+leave") b.readBefore.set(id, true);
        b.a.markRead(id);
      }
      for (const read of [false, true]) {
        const subject = `${label(b)} while down ${read ? "read" : "unread"}`;
        const id = b.a.add(subject, { read });
        b.expected.set(subject, id);
        b.readBefore.set(id, read);
      }
    }

    watcher = await startWatcherProcess(watcherEnv());
    await waitForBacklogs(probes());
    // Let the reconcile run a few more times: it must find nothing to add.
    await new Promise((r) => setTimeout(r, 6000));

    // Every box is checked before failing, so one run shows each case that goes wrong.
    const problems: string[] = [];
    const check = (ok: boolean, what: string): void => {
      if (!ok) problems.push(what);
    };
    for (const b of boxes) {
      const subjects = await storedSubjects(b.tenantId);
      const want = [...b.expected.keys()];
      const missing = want.filter((s) => !subjects.includes(s));
      const extra = subjects.filter((s) => !b.expected.has(s));
      check(subjects.length === b.expected.size, `${label(b)}: ${subjects.length} rows, want exactly ${b.expected.size}`);
      check(missing.length === 0, `${label(b)}: ${missing.length} never stored (${missing.slice(0, 3).join("; ")})`);
      check(extra.length === 0, `${label(b)}: ${extra.length} stored the start mode left out (${extra.slice(0, 3).join("; ")})`);
      check(new Set(subjects).size === subjects.length, `${label(b)}: a message stored twice`);
      const ids = [...b.expected.values()];
      if (b.name === "unread+mark_read") {
        check(ids.every((id) => b.a.isRead(id)), `${label(b)}: not all marked read`);
        check(ids.every((id) => b.a.inWatched(id)), `${label(b)}: something moved`);
      }
      if (b.name === "since+leave") {
        check(ids.every((id) => b.a.isRead(id) === b.readBefore.get(id)), `${label(b)}: read state changed`);
        check(ids.every((id) => b.a.inWatched(id)), `${label(b)}: something moved`);
      }
      if (b.name === "new_only+move") {
        check(ids.every((id) => !b.a.inWatched(id) && b.a.inMoveTarget(id)), `${label(b)}: not all moved to ${b.a.moveToFolder}`);
      }
      // The history the start mode left out stays as it was.
      for (const [subject, id] of b.excluded) {
        check(b.a.inWatched(id), `${label(b)}: ${subject} moved`);
        check(b.a.isRead(id) === subject.includes(" read "), `${label(b)}: ${subject} read state changed`);
      }
    }
    assert.deepEqual(problems, []);
  });
});
