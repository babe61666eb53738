/**
 * Issue 15 acceptance: admin alert emails through a real SMTP sink process, from the real watcher
 * process watching a private Dovecot. Timings scaled down by env: grace 3 s, recovery 2 s,
 * cool-down 10 min, scan every 1 s, sign-in retry every 1 s.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { useFreshDatabase } from "@/tests/harness/database";
import { startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { savePlainImapMailbox, waitForMailboxStatus } from "@/tests/harness/imap-mailbox";
import { getFreePort, waitFor } from "@/tests/harness/ports";
import { ALERT_ENV, alertKindOf, alertMailsFor, seedAlertTenant, summariseAlerts } from "@/tests/harness/alert-setup";
import { startSmtpSink, type SinkMail, type SmtpSink } from "@/tests/harness/smtp-sink";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";

const database = await useFreshDatabase();
const { deleteMailbox } = await import("@/lib/db/queries/mailboxes");
const { listAlertNotifications, listActiveAlertNotices } = await import("@/lib/db/queries/mailbox-alerts");
const { stopJobQueue } = await import("@/lib/jobs/job-queue");
const { closeDb } = await import("@/lib/db/client");

let dovecot: DovecotInstance;
let sink: SmtpSink;
let watcher: WatcherProcess;
let tenantId: string;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function startWatcher(extra: Record<string, string>): Promise<WatcherProcess> {
  return startWatcherProcess({ DATABASE_URL: database.url, SMTP_URL: sink.url, ...ALERT_ENV, ...extra });
}

const mailsFor = (address: string): Promise<SinkMail[]> => alertMailsFor(sink, address);
const kindOf = alertKindOf;
const summary = summariseAlerts;

before(async () => {
  dovecot = await startDovecot({ users: ["ada", "flap", "pz"].map((name) => ({ name, password: `${name}-secret` })) });
  sink = await startSmtpSink();
  ({ tenantId } = await seedAlertTenant());
  watcher = await startWatcher({ EMAIL_PAUSE_AFTER_AUTH_FAILURES: "0" });
});

after(async () => {
  await watcher?.stop();
  await sink?.stop();
  await dovecot?.stop();
  await stopJobQueue();
  await closeDb();
  await database.drop();
});

describe("admin alert emails", () => {
  it("a password changed at Dovecot: one alert per admin after the grace, in their language, one recovery after the fix", async () => {
    const mailboxId = await savePlainImapMailbox({ tenantId, host: dovecot.host, port: dovecot.imapPort, user: "ada", password: "ada-secret" });
    await waitForMailboxStatus(mailboxId, "connected");
    await dovecot.setPassword("ada", "changed-by-it");
    await dovecot.restart(); // ends the open session: the watcher has to sign in again
    await waitForMailboxStatus(mailboxId, "error");
    const failedAt = Date.now();
    await waitFor(async () => (await mailsFor("ada@hotel.test")).length >= 2, { timeoutMs: 20_000, what: "two alert mails" });
    assert.ok(Date.now() - failedAt >= 2000, "no alert before the grace period");
    await sleep(4000); // retries go on every second: a second alert would arrive within this
    let mails = await mailsFor("ada@hotel.test");
    assert.deepEqual(summary(mails), ["en-admin@hotel.test failure", "tr-admin@hotel.test failure"]);
    const en = mails.find((m) => m.envelopeTo[0] === "en-admin@hotel.test")!;
    const tr = mails.find((m) => m.envelopeTo[0] === "tr-admin@hotel.test")!;
    assert.equal(en.subject, "Action needed: the booking mailbox ada@hotel.test stopped receiving mail");
    assert.match(en.text, /What is wrong: The server rejected the username or password\./);
    assert.match(en.text, /Open the email settings: https:\/\/app\.hotel\.test\/settings\/email/);
    assert.equal(tr.subject, "İşlem gerekli: rezervasyon posta kutusu ada@hotel.test e-posta almayı durdurdu");
    assert.match(tr.text, /Sorun nedir: Sunucu kullanıcı adını veya parolayı kabul etmedi\./);
    assert.equal(en.from, "\"Mailbox alerts\" <alerts@app.test>");
    // The settings page shows the same notice.
    const notices = await listActiveAlertNotices({ tenantId });
    assert.deepEqual(notices.map((n) => [n.mailboxId, n.kind, n.code]), [[mailboxId, "failure", "auth"]]);

    await dovecot.setPassword("ada", "ada-secret");
    await waitForMailboxStatus(mailboxId, "connected");
    await waitFor(async () => (await mailsFor("ada@hotel.test")).length >= 4, { timeoutMs: 20_000, what: "two recovery mails" });
    await sleep(3000);
    mails = await mailsFor("ada@hotel.test");
    assert.deepEqual(summary(mails), [
      "en-admin@hotel.test failure",
      "en-admin@hotel.test recovery",
      "tr-admin@hotel.test failure",
      "tr-admin@hotel.test recovery",
    ]);
    assert.ok(mails.some((m) => m.subject === "Düzeldi: rezervasyon posta kutusu ada@hotel.test yeniden çalışıyor"));
    assert.deepEqual(await listActiveAlertNotices({ tenantId }), []);
    assert.deepEqual((await listAlertNotifications({ mailboxId })).map((n) => n.kind), ["failure", "recovery"]);
    await deleteMailbox({ tenantId, purpose: "booking" });
  });

  it("a flapping server (down 4 s / up 4 s for 40 s) sends at most two mails per admin", async () => {
    const proxy = await startFlappingProxy(dovecot.imapPort);
    try {
      const mailboxId = await savePlainImapMailbox({ tenantId, purpose: "stopsale", host: "127.0.0.1", port: proxy.port, user: "flap", password: "flap-secret" });
      await waitForMailboxStatus(mailboxId, "connected");
      for (let i = 0; i < 5; i++) {
        await proxy.down();
        await sleep(4000);
        await proxy.up();
        await sleep(4000);
      }
      await waitForMailboxStatus(mailboxId, "connected");
      await sleep(4000);
      const mails = await mailsFor("flap@hotel.test");
      for (const admin of ["en-admin@hotel.test", "tr-admin@hotel.test"]) {
        const own = mails.filter((m) => m.envelopeTo[0] === admin).map(kindOf);
        assert.ok(own.length <= 2, `${admin} got ${own.join(", ")}`);
        assert.equal(own.filter((k) => k === "failure").length, 1, `${admin} got ${own.join(", ")}`);
      }
      assert.ok(mails.every((m) => m.envelopeTo[0] !== "quiet-admin@hotel.test" && m.envelopeTo[0] !== "viewer@hotel.test"));
      await deleteMailbox({ tenantId, purpose: "stopsale" });
    } finally {
      await proxy.close();
    }
  });
});

/** A TCP proxy to Dovecot that can go down (listener closed, connections cut) and come back on the same port. */
async function startFlappingProxy(targetPort: number): Promise<{ port: number; down: () => Promise<void>; up: () => Promise<void>; close: () => Promise<void> }> {
  const port = await getFreePort();
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  const up = async (): Promise<void> => {
    server = net.createServer((client) => {
      const upstream = net.connect(targetPort, "127.0.0.1");
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
        s.on("error", () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve) => server!.listen(port, "127.0.0.1", resolve));
  };
  const down = async (): Promise<void> => {
    const s = server;
    server = null;
    for (const sock of sockets) sock.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await up();
  return { port, down, up, close: down };
}
