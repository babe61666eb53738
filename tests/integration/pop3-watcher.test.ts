import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { useFreshDatabase } from "@/tests/harness/database";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { getFreePort, waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";
import { savePlainImapMailbox, waitForMailboxStatus, type MailboxExtra } from "@/tests/harness/imap-mailbox";

// Fresh database before any lib/db module runs a query.
const database = await useFreshDatabase();
const { createTenant } = await import("@/lib/db/queries/tenants");
const { getMailboxById } = await import("@/lib/db/queries/mailboxes");
const { listMessages, countMailboxMessages } = await import("@/lib/db/queries/messages");
const { listRecentEvents } = await import("@/lib/db/queries/mailbox-events");
const { listStoredProviderIds } = await import("@/lib/db/queries/stored-provider-ids");
const { ingestFetchedMessages } = await import("@/lib/ingest/ingest-messages");
/** The POP3 provider still returns pre-issue-13 messages (no size) until its port lands. */
const withSize = <T extends { raw: Buffer }>(m: T): T & { size: number } => ({ ...m, size: m.raw.length });
const { Pop3Provider } = await import("@/lib/email/pop3/pop3-provider");
const { Pop3Client } = await import("@/lib/email/pop3/pop3-client");
const { MailError } = await import("@/lib/email/provider");
const { closeDb } = await import("@/lib/db/client");

type Purpose = "booking" | "stopsale";

const POLL_SECONDS = 10;
/** One poll interval plus the time a poll takes here (well under a second) and test polling slack. */
const ONE_INTERVAL_MS = POLL_SECONDS * 1000 + 2500;

let dovecot: DovecotInstance;
let dovecotTls: DovecotInstance;
let watcher: WatcherProcess;
let tmp: string;
let watcherEnv: NodeJS.ProcessEnv;

const users = ["res", "restart", "dele", "kill", "wrong", "direct", "direct2", "newonly", "modes", "since", "big"].map((name) => ({ name, password: `${name}-secret` }));
const tlsUsers = ["tls", "stls", "client"].map((name) => ({ name, password: `${name}-secret` }));

async function configure(tenantId: string, purpose: Purpose, user: string, password: string, extra: MailboxExtra = {}): Promise<string> {
  // The plain Dovecot offers no STLS (plaintext chosen explicitly); the row may say IDLE, POP3 polls anyway.
  return savePlainImapMailbox({
    tenantId,
    purpose,
    host: dovecot.host,
    port: dovecot.pop3Port,
    user,
    password,
    extra: { access: "pop3", pollIntervalSeconds: POLL_SECONDS, deleteAfterIngest: false, ...extra },
  });
}

async function waitForCount(mailboxId: string, n: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => (await countMailboxMessages({ mailboxId })) >= n, { timeoutMs, what: `${n} stored messages` });
}

/** Resolves once the watcher has finished a poll that started after this call. */
async function waitForNextPoll(mailboxId: string, timeoutMs = ONE_INTERVAL_MS + 5000): Promise<void> {
  const since = Date.now();
  await waitFor(async () => ((await getMailboxById({ mailboxId }))?.lastSuccessAt?.getTime() ?? 0) > since + 50, {
    timeoutMs,
    what: "the next poll",
  });
}

async function subjects(tenantId: string): Promise<string[]> {
  return (await listMessages({ tenantId, limit: 1000 })).map((m) => m.subject ?? "").sort();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Appends in parallel (each harness append is its own IMAP login, ~0.3 s); arrival order is not kept. */
async function appendMany(user: string, messages: string[], concurrency = 8): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < messages.length) await dovecot.append(user, messages[next++] as string);
    }),
  );
}

before(async () => {
  [dovecot, dovecotTls] = await Promise.all([startDovecot({ users }), startDovecot({ users: tlsUsers, tls: true })]);
  tmp = await mkdtemp(path.join(tmpdir(), "pop3-watcher-"));
  const caFile = path.join(tmp, "ca.pem");
  await writeFile(caFile, dovecotTls.caCertPem ?? "");
  watcherEnv = {
    ...process.env,
    DATABASE_URL: database.url,
    EMAIL_BACKOFF_MIN_SECONDS: "1",
    EMAIL_BACKOFF_MAX_SECONDS: "2",
    // Small batches so a kill lands in the middle of a backlog.
    EMAIL_FETCH_BATCH_SIZE: "5",
    // A SIGKILLed replica counts as live for 3 reconcile intervals; keep the hand-over short.
    WATCHER_RECONCILE_SECONDS: "2",
    NODE_EXTRA_CA_CERTS: caFile,
  };
  watcher = await startWatcherProcess(watcherEnv);
});

after(async () => {
  await watcher?.stop();
  await Promise.all([dovecot?.stop(), dovecotTls?.stop()]);
  await closeDb();
  await database.drop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("POP3 mailbox watched by the watcher process", () => {
  it("ingests the backlog once, new mail within one poll interval, and leaves mail on the server by default", async () => {
    for (let i = 0; i < 5; i++) await dovecot.append("res", makeMessage({ subject: `Backlog ${i}`, body: `.dot line ${i}\r\n..two dots` }));
    const tenant = await createTenant({ name: "Pension Ada" });
    const mailboxId = await configure(tenant.id, "booking", "res", "res-secret");
    await waitForMailboxStatus(mailboxId, "connected");
    await waitForCount(mailboxId, 5);
    const items = await listMessages({ tenantId: tenant.id, limit: 100 });
    assert.deepEqual(items.map((m) => m.subject).sort(), ["Backlog 0", "Backlog 1", "Backlog 2", "Backlog 3", "Backlog 4"]);
    assert.ok(items.every((m) => m.status === "processed"));
    // The UIDL is the provider id (Dovecot's default %08Xu%08Xv).
    assert.ok(items.every((m) => /^[0-9a-f]{16}$/i.test(m.providerMessageId)), items[0]?.providerMessageId);
    // Dot-stuffed lines come back exactly as appended, CRLF preserved.
    const { getMessage } = await import("@/lib/db/queries/messages");
    const full = await getMessage({ tenantId: tenant.id, messageId: items[0]?.id ?? "" });
    assert.match(full?.raw.toString("utf8") ?? "", /\r\n\.dot line \d\r\n\.\.two dots\r\n$/);

    const appendedAt = Date.now();
    await dovecot.append("res", makeMessage({ subject: "New booking" }));
    await waitForCount(mailboxId, 6, ONE_INTERVAL_MS);
    const latency = Date.now() - appendedAt;
    assert.ok(latency <= ONE_INTERVAL_MS, `picked up after ${latency} ms`);

    // One more poll: nothing is stored twice, and nothing was deleted from the server.
    await waitForNextPoll(mailboxId);
    assert.equal(await countMailboxMessages({ mailboxId }), 6);
    assert.equal((await dovecot.messages("res")).length, 6);
    const row = await getMailboxById({ mailboxId });
    assert.equal(row?.status, "connected");
    assert.equal(row?.backlog, 0);
  });

  it("a restarted watcher (SIGTERM) ingests nothing twice and picks up what arrived while it was down", async () => {
    const tenant = await createTenant({ name: "Pension Restart" });
    for (let i = 0; i < 3; i++) await dovecot.append("restart", makeMessage({ subject: `Before ${i}` }));
    const mailboxId = await configure(tenant.id, "booking", "restart", "restart-secret");
    await waitForCount(mailboxId, 3);
    await watcher.stop();
    await dovecot.append("restart", makeMessage({ subject: "While down" }));
    watcher = await startWatcherProcess(watcherEnv);
    await waitForCount(mailboxId, 4, 30_000);
    await waitForNextPoll(mailboxId);
    assert.equal(await countMailboxMessages({ mailboxId }), 4);
    assert.deepEqual(await subjects(tenant.id), ["Before 0", "Before 1", "Before 2", "While down"]);
  });

  it("ends with exactly 100 rows when killed (SIGKILL) in the middle of a 100-message backlog", async () => {
    const tenant = await createTenant({ name: "Pension Kill" });
    await appendMany("kill", Array.from({ length: 100 }, (_, i) => makeMessage({ subject: `Backlog ${i}`, body: "x".repeat(20_000) })));
    const mailboxId = await configure(tenant.id, "booking", "kill", "kill-secret", { deleteAfterIngest: true });
    await waitFor(async () => (await countMailboxMessages({ mailboxId })) >= 10, { timeoutMs: 30_000, intervalMs: 5, what: "part of the backlog" });
    assert.equal(await watcher.kill("SIGKILL"), null);
    const partial = await countMailboxMessages({ mailboxId });
    assert.ok(partial < 100, `killed too late to prove anything (${partial} stored)`);
    watcher = await startWatcherProcess(watcherEnv);
    await waitForCount(mailboxId, 100, 60_000);
    await waitForNextPoll(mailboxId);
    assert.equal(await countMailboxMessages({ mailboxId }), 100);
    assert.equal(new Set(await subjects(tenant.id)).size, 100);
    // Deletion follows storage. A batch stored but not yet deleted at the kill is never fetched
    // again (its UIDLs are stored): it is deleted at the restart (SyncState.pop3AfterIngestPending).
    await waitFor(async () => (await dovecot.messages("kill")).length === 0, { timeoutMs: 10_000, what: "the server to be empty" });
  });

  it("with delete-after-ingest, removes stored mail from the server and keeps polling", async () => {
    const tenant = await createTenant({ name: "Pension Dele" });
    for (let i = 0; i < 3; i++) await dovecot.append("dele", makeMessage({ subject: `Old ${i}` }));
    const mailboxId = await configure(tenant.id, "stopsale", "dele", "dele-secret", { deleteAfterIngest: true });
    await waitForCount(mailboxId, 3);
    await waitFor(async () => (await dovecot.messages("dele")).length === 0, { timeoutMs: 5000, what: "the server to be empty" });
    await dovecot.append("dele", makeMessage({ subject: "Stop sale" }));
    await waitForCount(mailboxId, 4, ONE_INTERVAL_MS);
    await waitFor(async () => (await dovecot.messages("dele")).length === 0, { timeoutMs: 5000, what: "the server to be empty" });
    assert.deepEqual(await subjects(tenant.id), ["Old 0", "Old 1", "Old 2", "Stop sale"]);
  });

  it("start mode new_only through the watcher: what is there stays out, the next message comes, nothing deleted", async () => {
    const tenant = await createTenant({ name: "Pension New Only" });
    for (let i = 0; i < 3; i++) await dovecot.append("newonly", makeMessage({ subject: `Before ${i}` }));
    const mailboxId = await configure(tenant.id, "booking", "newonly", "newonly-secret", { startMode: "new_only" });
    await waitFor(async () => Boolean((await getMailboxById({ mailboxId }))?.syncState.pop3BaselineAt), { timeoutMs: 15_000, what: "the baseline" });
    await dovecot.append("newonly", makeMessage({ subject: "After" }));
    await waitForCount(mailboxId, 1, ONE_INTERVAL_MS);
    await sleep(1000);
    assert.deepEqual(await subjects(tenant.id), ["After"]);
    assert.equal((await dovecot.messages("newonly")).length, 4);
  });

  it("reports a wrong password as an auth error, without a reconnect storm", async () => {
    const tenant = await createTenant({ name: "Pension Wrong" });
    const mailboxId = await configure(tenant.id, "booking", "wrong", "not-the-password");
    await waitForMailboxStatus(mailboxId, "error");
    assert.equal((await getMailboxById({ mailboxId }))?.lastError, "The server rejected the username or password.");
    await sleep(3000);
    const events = await listRecentEvents({ mailboxId, limit: 50 });
    assert.equal(events.filter((e) => e.kind === "auth_failed").length, 1);
    await configure(tenant.id, "booking", "wrong", "wrong-secret");
    await waitForMailboxStatus(mailboxId, "connected");
  });

  it("connects over implicit TLS (pop3s) and over STLS, trusting the CA from NODE_EXTRA_CA_CERTS", async () => {
    const tenant = await createTenant({ name: "Pension TLS" });
    await dovecotTls.append("tls", makeMessage({ subject: "Over TLS" }));
    await dovecotTls.append("stls", makeMessage({ subject: "Over STLS" }));
    const tlsId = await configure(tenant.id, "booking", "tls", "tls-secret", {
      host: dovecotTls.host,
      port: dovecotTls.pop3sPort,
      useSsl: true,
      tlsMode: "implicit",
    });
    const stlsId = await configure(tenant.id, "stopsale", "stls", "stls-secret", {
      host: dovecotTls.host,
      port: dovecotTls.pop3Port,
      useSsl: false,
      tlsMode: "starttls",
    });
    await waitForCount(tlsId, 1);
    await waitForCount(stlsId, 1);
    assert.deepEqual(await subjects(tenant.id), ["Over STLS", "Over TLS"]);
    // Dovecot logs "TLS" for every login made over TLS, including the STLS upgrade on the plain port.
    const log = await readFile(path.join(dovecotTls.dir, "dovecot.log"), "utf8");
    const logins = log.split("\n").filter((l) => /pop3-login: .*Login: user=<(tls|stls)>/.test(l));
    assert.ok(logins.length >= 2, log.slice(-2000));
    assert.ok(logins.every((l) => /\bTLS\b/.test(l)), logins.join("\n"));
  });
});

describe("POP3 provider against Dovecot (in process)", () => {
  async function disabledMailbox(user: string, opts: { purpose?: Purpose } = {}): Promise<{ id: string; tenantId: string; purpose: Purpose }> {
    const tenant = await createTenant({ name: `Direct ${user}` });
    const purpose = opts.purpose ?? "booking";
    // Disabled: the watcher process leaves it alone; the test drives the provider itself.
    const id = await configure(tenant.id, purpose, user, `${user}-secret`, { enabled: false, deleteAfterIngest: true });
    return { id, tenantId: tenant.id, purpose };
  }

  function provider(mailboxId: string, user: string, extra: Partial<ConstructorParameters<typeof Pop3Provider>[0]> = {}) {
    return new Pop3Provider({
      mailboxId,
      host: dovecot.host,
      port: dovecot.pop3Port,
      tlsMode: "none",
      allowInvalidCertificate: false,
      auth: { user, pass: `${user}-secret` },
      pollIntervalMs: 200,
      deleteAfterIngest: true,
      connectTimeoutMs: 5000,
      ...extra,
    });
  }

  const subjectOf = (raw: Buffer): string => /^Subject: (.*)$/m.exec(raw.toString("utf8"))?.[1]?.trim() ?? "";

  it("deletes only ids passed in and confirmed stored, in the session that listed them; later arrivals stay", async () => {
    const mailbox = await disabledMailbox("direct");
    for (const s of ["A", "B", "C"]) await dovecot.append("direct", makeMessage({ subject: s }));
    const p = provider(mailbox.id, "direct");
    await p.connect();
    assert.equal(p.isConnected, true);
    assert.equal((await p.countStartCandidates({})).unread, 3);
    const batch = await p.fetchNew({ maxCount: 10, maxBytes: 1 << 26 });
    assert.equal(batch.more, false);
    assert.ok(batch.cursor.pop3BaselineAt, "the first batch records that the baseline is taken");
    const fetched = batch.messages;
    assert.deepEqual(fetched.map((m) => subjectOf(m.raw)), ["A", "B", "C"]);
    const [a, b, c] = fetched;
    assert.ok(a && b && c);
    // D arrives between UIDL and DELE.
    await dovecot.append("direct", makeMessage({ subject: "D" }));
    // Only A and B get stored (C's store "failed"); C is passed anyway and must survive.
    const result = await ingestFetchedMessages({ mailbox, messages: [a, b].map(withSize) });
    assert.deepEqual(result.storedProviderIds, [a.providerMessageId, b.providerMessageId]);
    await p.applyAfterIngest([a.providerMessageId, b.providerMessageId, c.providerMessageId]);
    assert.equal((await dovecot.messages("direct")).length, 2, "C and D are still on the server");

    // Next poll: a new session sees C and D as unread.
    const controller = new AbortController();
    const started = Date.now();
    assert.equal(await p.waitForChange({ timeoutMs: 600_000, signal: controller.signal }), "timeout");
    const waited = Date.now() - started;
    assert.ok(waited >= 190 && waited < 2000, `slept ${waited} ms for a 200 ms poll interval`);
    const next = (await p.fetchNew({ maxCount: 10, maxBytes: 1 << 26 })).messages;
    assert.deepEqual(next.map((m) => subjectOf(m.raw)), ["C", "D"]);
    await ingestFetchedMessages({ mailbox, messages: next });
    // The session is ended before E arrives; applyAfterIngest maps UIDLs afresh in a new session.
    assert.equal(await p.waitForChange({ timeoutMs: 1, signal: controller.signal }), "timeout");
    await dovecot.append("direct", makeMessage({ subject: "E" }));
    await p.applyAfterIngest(next.map((m) => m.providerMessageId));
    const left = (await p.fetchNew({ maxCount: 10, maxBytes: 1 << 26 })).messages;
    assert.deepEqual(left.map((m) => subjectOf(m.raw)), ["E"]);
    assert.equal((await dovecot.messages("direct")).length, 1);
    const stored = await listStoredProviderIds({ mailboxId: mailbox.id, ids: [...fetched, ...next, ...left].map((m) => m.providerMessageId) });
    assert.equal(stored.size, 4);

    // An abort or a disconnect ends the wait at once.
    const waiting = p.waitForChange({ timeoutMs: 600_000, signal: controller.signal });
    controller.abort();
    assert.equal(await waiting, "closed");
    const again = p.waitForChange({ timeoutMs: 600_000, signal: new AbortController().signal });
    await sleep(20);
    await p.disconnect();
    assert.equal(await again, "closed");
    assert.equal(p.isConnected, false);
  });

  it("without delete-after-ingest, after-ingest leaves the server alone (mark_read/move do not apply); fetchNew pages through a backlog", async () => {
    const mailbox = await disabledMailbox("direct2");
    for (let i = 0; i < 5; i++) await dovecot.append("direct2", makeMessage({ subject: `M${i}` }));
    const p = provider(mailbox.id, "direct2", { deleteAfterIngest: false });
    await p.connect();
    const first = await p.fetchNew({ maxCount: 2, maxBytes: 1 << 26 });
    assert.deepEqual(first.messages.map((m) => subjectOf(m.raw)), ["M0", "M1"]);
    assert.equal(first.more, true);
    assert.equal(first.backlog, 3);
    await ingestFetchedMessages({ mailbox, messages: first.messages });
    await p.applyAfterIngest(first.messages.map((m) => m.providerMessageId));
    assert.equal((await p.countStartCandidates({})).unread, 3);
    const rest = await p.fetchNew({ maxCount: 10, maxBytes: 1 << 26 });
    assert.deepEqual(rest.messages.map((m) => subjectOf(m.raw)), ["M2", "M3", "M4"]);
    assert.equal(rest.more, false);
    // Bounded by bytes too: the first message always goes, the next only while the budget lasts.
    const bounded = await p.fetchNew({ maxCount: 10, maxBytes: 1 });
    assert.equal(bounded.messages.length, 1);
    assert.equal(bounded.more, true);
    await p.disconnect();
    assert.equal((await dovecot.messages("direct2")).length, 5);
  });

  it("start mode new_only records what is there as skipped; only later mail comes, also after a restart", async () => {
    const mailbox = await disabledMailbox("modes");
    for (const s of ["old 1", "old 2"]) await dovecot.append("modes", makeMessage({ subject: s }));
    const p = provider(mailbox.id, "modes", { deleteAfterIngest: false, startMode: "new_only" });
    await p.connect();
    assert.equal((await p.countStartCandidates({})).unread, 2);
    const first = await p.fetchNew({ maxCount: 10, maxBytes: 1 << 26 });
    assert.deepEqual(first.messages, []);
    assert.ok(first.cursor.pop3BaselineAt);
    assert.equal(await p.waitForChange({ timeoutMs: 1, signal: new AbortController().signal }), "timeout");
    await dovecot.append("modes", makeMessage({ subject: "new 1" }));
    const next = await p.fetchNew({ maxCount: 10, maxBytes: 1 << 26 });
    assert.deepEqual(next.messages.map((m) => subjectOf(m.raw)), ["new 1"]);
    assert.deepEqual(next.cursor, {});
    await ingestFetchedMessages({ mailbox, messages: next.messages });
    // The reconcile's view leaves the skipped ones out too.
    assert.deepEqual((await p.listRecent({ since: new Date(0), limit: 100 })).length, 1);
    await p.disconnect();
    // A restarted provider with the committed cursor takes no new baseline.
    await dovecot.append("modes", makeMessage({ subject: "new 2" }));
    const again = provider(mailbox.id, "modes", { deleteAfterIngest: false, startMode: "new_only", baselineAt: first.cursor.pop3BaselineAt! });
    await again.connect();
    assert.deepEqual((await again.fetchNew({ maxCount: 10, maxBytes: 1 << 26 })).messages.map((m) => subjectOf(m.raw)), ["new 2"]);
    await again.disconnect();
  });

  it("start mode since imports by the Date header (TOP 0) and skips older mail", async () => {
    const mailbox = await disabledMailbox("since");
    const now = Date.now();
    await dovecot.append("since", makeMessage({ subject: "two days ago", date: new Date(now - 2 * 86_400_000) }));
    await dovecot.append("since", makeMessage({ subject: "an hour ago", date: new Date(now - 3600_000) }));
    await dovecot.append("since", makeMessage({ subject: "just now", date: new Date(now) }));
    const startSince = new Date(now - 86_400_000);
    const p = provider(mailbox.id, "since", { deleteAfterIngest: false, startMode: "since", startSince });
    await p.connect();
    assert.deepEqual(await p.countStartCandidates({ since: startSince }), { unread: 3, since: 2, total: 3 });
    const batch = await p.fetchNew({ maxCount: 10, maxBytes: 1 << 26 });
    assert.deepEqual(batch.messages.map((m) => subjectOf(m.raw)), ["an hour ago", "just now"]);
    await ingestFetchedMessages({ mailbox, messages: batch.messages });
    assert.deepEqual((await p.fetchNew({ maxCount: 10, maxBytes: 1 << 26 })).messages, []);
    await p.disconnect();
  });

  it("a message above maxMessageBytes (LIST size) comes back tooLarge with its TOP 0 headers, never RETRieved", async () => {
    const mailbox = await disabledMailbox("big");
    await dovecot.append("big", makeMessage({ subject: "huge", body: "z".repeat(50_000) }));
    await dovecot.append("big", makeMessage({ subject: "small" }));
    const p = provider(mailbox.id, "big", { deleteAfterIngest: true, maxMessageBytes: 10_000 });
    await p.connect();
    const batch = await p.fetchNew({ maxCount: 10, maxBytes: 1 << 26 });
    const [huge, small] = batch.messages;
    assert.equal(huge?.tooLarge, true);
    assert.ok((huge?.size ?? 0) > 50_000);
    assert.equal(subjectOf(huge!.raw), "huge");
    assert.ok(huge!.raw.toString("latin1").endsWith("\r\n\r\n") && !huge!.raw.includes("zzzz"));
    assert.equal(small?.tooLarge, undefined);
    assert.equal(subjectOf(small!.raw), "small");
    await p.disconnect();
  });

  it("maps a wrong password, a closed port and an untrusted certificate to MailError codes", async () => {
    const wrong = provider("00000000-0000-0000-0000-000000000000", "direct", { auth: { user: "direct", pass: "nope" } });
    await assert.rejects(wrong.connect(), (err: unknown) => err instanceof MailError && err.code === "auth");
    assert.match(wrong.getHealthStatus().lastError ?? "", /rejected the username or password/);
    const untrusted = provider("00000000-0000-0000-0000-000000000000", "tls", {
      host: dovecotTls.host,
      port: dovecotTls.pop3sPort ?? 0,
      tlsMode: "implicit",
    });
    await assert.rejects(untrusted.connect(), (err: unknown) => err instanceof MailError && err.code === "tls");
    const stlsUntrusted = provider("00000000-0000-0000-0000-000000000000", "tls", { host: dovecotTls.host, port: dovecotTls.pop3Port, tlsMode: "starttls" });
    await assert.rejects(stlsUntrusted.connect(), (err: unknown) => err instanceof MailError && err.code === "tls");
    const refused = provider("00000000-0000-0000-0000-000000000000", "direct", { port: await getFreePort() });
    await assert.rejects(refused.connect(), (err: unknown) => err instanceof MailError && err.code === "refused");
  });

  it("the client upgrades with STLS when offered and verifies against the given CA", async () => {
    const client = await Pop3Client.connect({
      host: dovecotTls.host,
      port: dovecotTls.pop3Port,
      tls: "starttls",
      tlsOptions: { ca: dovecotTls.caCertPem ?? "" },
      connectTimeoutMs: 5000,
      idleTimeoutMs: 5000,
    });
    assert.equal(client.secure, true);
    assert.ok(client.capabilities?.some((c) => c.toUpperCase() === "UIDL"));
    assert.ok(!client.capabilities?.some((c) => c.toUpperCase() === "STLS"), "no STLS offered after the upgrade");
    await client.login("client", "client-secret");
    assert.deepEqual(await client.uidl(), []);
    await client.quit();
  });
});
