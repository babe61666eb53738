/**
 * Issue 15 acceptance (pause): admin alert emails through a real SMTP sink process, from the real watcher
 * process watching a private Dovecot. Timings scaled down by env: grace 3 s, recovery 2 s,
 * cool-down 10 min, scan every 1 s, sign-in retry every 1 s.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { useFreshDatabase } from "@/tests/harness/database";
import { startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { savePlainImapMailbox, waitForMailboxStatus } from "@/tests/harness/imap-mailbox";
import { waitFor } from "@/tests/harness/ports";
import { ALERT_ENV, alertMailsFor, seedAlertTenant, summariseAlerts } from "@/tests/harness/alert-setup";
import { startSmtpSink, type SinkMail, type SmtpSink } from "@/tests/harness/smtp-sink";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";

const database = await useFreshDatabase();
const { getMailboxById, resumeMailbox } = await import("@/lib/db/queries/mailboxes");
const { listRecentEvents } = await import("@/lib/db/queries/mailbox-events");
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
const summary = summariseAlerts;

before(async () => {
  dovecot = await startDovecot({ users: ["ada", "flap", "pz"].map((name) => ({ name, password: `${name}-secret` })) });
  sink = await startSmtpSink();
  ({ tenantId } = await seedAlertTenant());
  // A long grace: the alert that goes out is the pause, which is due at once.
  watcher = await startWatcher({ EMAIL_PAUSE_AFTER_AUTH_FAILURES: "3", EMAIL_PAUSE_WINDOW_SECONDS: "3600", ALERT_GRACE_SECONDS: "60" });
});

after(async () => {
  await watcher?.stop();
  await sink?.stop();
  await dovecot?.stop();
  await stopJobQueue();
  await closeDb();
  await database.drop();
});

describe("pause instead of hammering", () => {
  it("repeated sign-in failures pause the mailbox, the watcher stops trying, and Try again resumes it", async () => {
    const mailboxId = await savePlainImapMailbox({ tenantId, host: dovecot.host, port: dovecot.imapPort, user: "pz", password: "pz-secret" });
    await waitForMailboxStatus(mailboxId, "connected");
    await dovecot.setPassword("pz", "changed-by-it");
    await dovecot.restart();
    await waitForMailboxStatus(mailboxId, "paused", 20_000);
    const row = await getMailboxById({ mailboxId });
    assert.equal(row?.lastErrorCode, "paused");
    assert.match(row?.lastError ?? "", /^Sign-in failed 3 times within 1 h, so the watcher stopped trying/);
    const authFailures = async (): Promise<number> => (await listRecentEvents({ mailboxId, limit: 100 })).filter((e) => e.kind === "auth_failed").length;
    assert.equal(await authFailures(), 3);
    await sleep(4000); // a retry every second would add about four more
    assert.equal(await authFailures(), 3);
    assert.equal((await getMailboxById({ mailboxId }))?.status, "paused");
    // Paused is due at once: one mail per admin saying so.
    await waitFor(async () => (await mailsFor("pz@hotel.test")).length >= 2, { timeoutMs: 10_000, what: "pause alerts" });
    const paused = await mailsFor("pz@hotel.test");
    assert.deepEqual(summary(paused), ["en-admin@hotel.test failure", "tr-admin@hotel.test failure"]);
    assert.match(paused.find((m) => m.envelopeTo[0] === "en-admin@hotel.test")!.text, /What is wrong: Sign-in failed again and again/);

    await dovecot.setPassword("pz", "pz-secret");
    const resumed = await resumeMailbox({ tenantId, purpose: "booking" });
    assert.equal(resumed?.status, "connecting");
    await waitForMailboxStatus(mailboxId, "connected");
    await waitFor(async () => (await mailsFor("pz@hotel.test")).length >= 4, { timeoutMs: 15_000, what: "recovery mails" });
  });
});
