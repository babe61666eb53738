/**
 * Issue 16 acceptance: the real inbound SMTP process (`inbound/index.ts`) against PostgreSQL and
 * the built app, with senders nobody in the project wrote (Python's smtplib in a subprocess and
 * nodemailer), STARTTLS with a private test CA, DKIM keys published on a local DNS server, and
 * the database cut off by a TCP relay that resets every connection.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createInterface } from "node:readline";
import { dkimSign } from "mailauth/lib/dkim/sign";
import nodemailer from "nodemailer";
import { createLoggedInAdmin, type AppClient } from "@/tests/harness/app-client";
import { startTestDnsServer, type TestDnsServer } from "@/tests/harness/dns-server";
import { startInboundProcess, type InboundProcess } from "@/tests/harness/inbound-process";
import { waitFor } from "@/tests/harness/ports";
import { startSwitchableRelay, type SwitchableRelay } from "@/tests/harness/switchable-relay";
import { createTestCa, type TestCa } from "@/tests/harness/test-ca";

const root = path.resolve(import.meta.dirname, "..", "..");
const work = mkdtempSync(path.join(tmpdir(), "inbound-smtp-"));

type SmtplibResult = { code?: number; reply?: string; error?: string; stage: string; starttls_offered?: boolean; size?: string; starttls?: number };

function mime({ subject, from = "Rez <rez@sender.test>", body = "Booking 4711 for two nights.", messageId }: { subject: string; from?: string; body?: string; messageId?: string }): string {
  return [
    `From: ${from}`,
    "To: booking@hotel.test",
    `Subject: ${subject}`,
    `Message-ID: <${messageId ?? randomBytes(8).toString("hex")}@sender.test>`,
    "Date: Wed, 02 Dec 2026 04:00:00 +0000",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    body,
    "",
  ].join("\r\n");
}

/** smtplib in a subprocess; with pauseBeforeData the test gets control between RCPT and DATA. */
function sendWithSmtplib(
  args: { port: number; to: string[]; message: string; cafile?: string },
  onPause?: () => Promise<void>,
): Promise<SmtplibResult> {
  const file = path.join(work, `${randomBytes(6).toString("hex")}.eml`);
  writeFileSync(file, args.message);
  const child = spawn("python3", [
    path.join(root, "tests/harness/smtplib-send.py"),
    JSON.stringify({
      host: "127.0.0.1",
      port: args.port,
      mail_from: "bounce@sender.test",
      rcpt_to: args.to,
      message_file: file,
      ...(args.cafile ? { cafile: args.cafile } : {}),
      pause_before_data: Boolean(onPause),
    }),
  ]);
  return new Promise((resolve, reject) => {
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const parsed = JSON.parse(line) as SmtplibResult & { paused?: boolean };
      if (parsed.paused) {
        void onPause!().then(() => child.stdin.write("\n"), reject);
        return;
      }
      resolve(parsed);
    });
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`smtplib sender exited ${code}: ${stderr}`));
    });
  });
}

async function sendWithNodemailer({ port, to, raw, ca }: { port: number; to: string; raw: string | Buffer; ca?: string }): Promise<{ ok: boolean; response: string; code?: number }> {
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port,
    secure: false,
    name: "sender.test",
    ...(ca ? { requireTLS: true, tls: { ca, servername: "localhost" } } : { ignoreTLS: true }),
  });
  try {
    const info = await transport.sendMail({ envelope: { from: "bounce@sender.test", to: [to] }, raw });
    return { ok: true, response: info.response };
  } catch (err) {
    const e = err as { response?: string; responseCode?: number; message: string };
    return { ok: false, response: e.response ?? e.message, ...(e.responseCode ? { code: e.responseCode } : {}) };
  } finally {
    transport.close();
  }
}

async function rowsWithSubject(subject: string): Promise<{ id: string; status: string; auth_results: { dkim: string; dmarc: string; spf: string } | null }[]> {
  const { getPool } = await import("@/lib/db/client");
  const res = await getPool().query("SELECT id, status, auth_results FROM ingested_messages WHERE subject = $1", [subject]);
  return res.rows;
}

describe("inbound SMTP (forwarding mailboxes)", () => {
  let ca: TestCa;
  let dns: TestDnsServer;
  let relay: SwitchableRelay;
  let inbound: InboundProcess;
  let admin: AppClient;
  let address: string;
  let inboundEnv: Record<string, string>;
  const dkimKey = generateKeyPairSync("rsa", { modulusLength: 1024 });

  before(async () => {
    ca = await createTestCa();
    dns = await startTestDnsServer();
    const publicDer = dkimKey.publicKey.export({ type: "spki", format: "der" }).toString("base64");
    dns.setTxt("sel._domainkey.sender.test", [`v=DKIM1; k=rsa; p=${publicDer}`]);
    dns.setTxt("_dmarc.sender.test", ["v=DMARC1; p=reject"]);
    const db = new URL(process.env.DATABASE_URL!);
    relay = await startSwitchableRelay({ targetHost: db.hostname, targetPort: Number(db.port) });
    const viaRelay = new URL(db);
    viaRelay.host = `127.0.0.1:${relay.port}`;
    inboundEnv = {
      DATABASE_URL: viaRelay.toString(),
      INBOUND_TLS_KEY_FILE: ca.keyPath,
      INBOUND_TLS_CERT_FILE: ca.certPath,
      INBOUND_DNS_SERVERS: `127.0.0.1:${dns.port}`,
      INBOUND_MAX_MESSAGE_BYTES: String(200_000),
      DATABASE_CONNECT_TIMEOUT_SECONDS: "2",
    };
    inbound = await startInboundProcess(inboundEnv);
    admin = await createLoggedInAdmin();
    const saved = await admin.json<{ access: string; forwarding: { forwarding_address: string } }>("PUT", "/api/tenant/email/settings/booking", {
      access: "forwarding",
      address: "reservations@hotel.test",
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    assert.equal(saved.body.access, "forwarding");
    address = saved.body.forwarding.forwarding_address;
    assert.match(address, /^booking-[a-z2-7]{32}@inbound\.localhost$/);
  });

  after(async () => {
    await inbound?.kill("SIGKILL");
    await relay?.close();
    await dns?.close();
    const { closeDb } = await import("@/lib/db/client");
    await closeDb();
  });

  it("stores mail from smtplib over STARTTLS (test CA) once, retry included, and shows it in the messages API", async () => {
    const subject = `smtplib ${randomBytes(4).toString("hex")}`;
    const message = mime({ subject });
    const first = await sendWithSmtplib({ port: inbound.smtpPort, to: [address], message, cafile: ca.caPath });
    assert.equal(first.starttls_offered, true);
    assert.equal(first.starttls, 220);
    assert.equal(first.size, "200000");
    assert.equal(first.code, 250, JSON.stringify(first));
    // 250 came after the commit: the row is there now, without waiting.
    assert.equal((await rowsWithSubject(subject)).length, 1);
    const retry = await sendWithSmtplib({ port: inbound.smtpPort, to: [address], message, cafile: ca.caPath });
    assert.equal(retry.code, 250);
    assert.equal((await rowsWithSubject(subject)).length, 1);
    const list = await admin.json<{ items: { subject: string; status: string; sender_auth: { spf: string } | null }[] }>("GET", "/api/tenant/email/messages?email_type=booking");
    const item = list.body.items.find((i) => i.subject === subject);
    assert.ok(item, "the message is listed");
    assert.equal(item.status, "processed");
    assert.ok(item.sender_auth, "sender authentication is recorded");
  });

  it("stores mail from nodemailer with requireTLS against the test CA, and refuses a client that does not trust it", async () => {
    const subject = `nodemailer ${randomBytes(4).toString("hex")}`;
    const sent = await sendWithNodemailer({ port: inbound.smtpPort, to: address, raw: mime({ subject }), ca: ca.ca });
    assert.equal(sent.ok, true, sent.response);
    assert.match(sent.response, /^250 /);
    assert.equal((await rowsWithSubject(subject)).length, 1);
    const untrusted = nodemailer.createTransport({ host: "127.0.0.1", port: inbound.smtpPort, secure: false, requireTLS: true, tls: { servername: "localhost" } });
    await assert.rejects(untrusted.sendMail({ envelope: { from: "a@sender.test", to: [address] }, raw: mime({ subject: "untrusted" }) }), /certificate/i);
    untrusted.close();
  });

  it("refuses unknown recipients at RCPT with 550 5.1.1, including an address replaced by regeneration", async () => {
    const unknown = await sendWithSmtplib({ port: inbound.smtpPort, to: [`booking-${"a".repeat(32)}@inbound.localhost`], message: mime({ subject: "nobody" }) });
    assert.equal(unknown.stage, "rcpt");
    assert.equal(unknown.code, 550);
    assert.match(unknown.reply ?? "", /^5\.1\.1 /);
    const otherDomain = await sendWithSmtplib({ port: inbound.smtpPort, to: ["someone@elsewhere.test"], message: mime({ subject: "relay" }) });
    assert.equal(otherDomain.code, 550);

    const regenerated = await admin.json<{ forwarding: { forwarding_address: string } }>("POST", "/api/tenant/email/settings/booking/forwarding-address");
    assert.equal(regenerated.status, 200);
    const fresh = regenerated.body.forwarding.forwarding_address;
    assert.notEqual(fresh, address);
    const old = await sendWithSmtplib({ port: inbound.smtpPort, to: [address], message: mime({ subject: "old address" }) });
    assert.equal(old.stage, "rcpt");
    assert.equal(old.code, 550);
    address = fresh;
    const subject = `new address ${randomBytes(4).toString("hex")}`;
    assert.equal((await sendWithSmtplib({ port: inbound.smtpPort, to: [address], message: mime({ subject }) })).code, 250);
    assert.equal((await rowsWithSubject(subject)).length, 1);
  });

  it("refuses an oversize message with 552 and stores nothing (DATA cap; smtplib already at MAIL FROM by SIZE)", async () => {
    const subject = `oversize ${randomBytes(4).toString("hex")}`;
    const big = mime({ subject, body: "x".repeat(76).concat("\r\n").repeat(3000) });
    const viaData = await sendWithNodemailer({ port: inbound.smtpPort, to: address, raw: big });
    assert.equal(viaData.ok, false);
    assert.equal(viaData.code, 552, viaData.response);
    const viaSize = await sendWithSmtplib({ port: inbound.smtpPort, to: [address], message: big });
    assert.equal(viaSize.code, 552);
    assert.deepEqual(await rowsWithSubject(subject), []);
    // The server is still fine afterwards.
    const after = `after oversize ${randomBytes(4).toString("hex")}`;
    assert.equal((await sendWithNodemailer({ port: inbound.smtpPort, to: address, raw: mime({ subject: after }) })).ok, true);
  });

  it("answers 451 while the database is down, and the sender's retry after recovery is stored once", async () => {
    const subject = `db down ${randomBytes(4).toString("hex")}`;
    const message = mime({ subject });
    // RCPT succeeds (database up), then the database goes away before DATA.
    let during: SmtplibResult;
    let atRcpt: SmtplibResult;
    try {
      during = await sendWithSmtplib({ port: inbound.smtpPort, to: [address], message }, async () => relay.cut());
      // Still down: a new transaction is refused temporarily at RCPT (the lookup needs the database).
      atRcpt = await sendWithSmtplib({ port: inbound.smtpPort, to: [address], message });
    } finally {
      relay.restore();
    }
    assert.equal(during.stage, "data");
    assert.equal(during.code, 451, JSON.stringify(during));
    assert.match(during.reply ?? "", /^4\.\d\.\d /);
    assert.equal(atRcpt.stage, "rcpt");
    assert.equal(atRcpt.code, 451);
    assert.deepEqual(await rowsWithSubject(subject), []);
    const retried = await waitFor(
      async () => {
        const r = await sendWithSmtplib({ port: inbound.smtpPort, to: [address], message });
        return r.code === 250 ? r : null;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: "a 250 after the database came back" },
    );
    assert.equal(retried.code, 250);
    assert.equal((await sendWithSmtplib({ port: inbound.smtpPort, to: [address], message })).code, 250);
    assert.equal((await rowsWithSubject(subject)).length, 1);
  });

  it("records dkim=pass for a message signed with the published key and dkim=fail once tampered", async () => {
    const sign = async (subject: string): Promise<string> => {
      const message = mime({ subject, body: "Signed booking 9001." });
      // mailauth reads signatureData (its bundled .d.ts names top-level fields it ignores).
      const options = {
        canonicalization: "relaxed/relaxed",
        signatureData: [{ signingDomain: "sender.test", selector: "sel", privateKey: dkimKey.privateKey.export({ type: "pkcs8", format: "pem" }) as string }],
      };
      const signed = await dkimSign(message, options as unknown as Parameters<typeof dkimSign>[1]);
      assert.deepEqual(signed.errors, []);
      assert.match(signed.signatures, /^DKIM-Signature: .*d=sender\.test/s);
      return signed.signatures + message;
    };
    const good = `dkim good ${randomBytes(4).toString("hex")}`;
    assert.equal((await sendWithNodemailer({ port: inbound.smtpPort, to: address, raw: await sign(good), ca: ca.ca })).ok, true);
    // A signed header changed on the way: the signature no longer verifies (a body change alone is
    // reported "neutral" by mailauth, as the body hash is checked before the signature).
    const signedAs = `dkim bad ${randomBytes(4).toString("hex")}`;
    const bad = `${signedAs} (edited)`;
    const tampered = (await sign(signedAs)).replace(`Subject: ${signedAs}`, `Subject: ${bad}`);
    assert.equal((await sendWithNodemailer({ port: inbound.smtpPort, to: address, raw: tampered, ca: ca.ca })).ok, true);

    const [goodRow] = await rowsWithSubject(good);
    const [badRow] = await rowsWithSubject(bad);
    assert.equal(goodRow?.auth_results?.dkim, "pass");
    assert.equal(goodRow?.auth_results?.dmarc, "pass");
    assert.equal(badRow?.auth_results?.dkim, "fail");
    assert.equal(badRow?.auth_results?.dmarc, "fail");
    assert.ok(dns.queries.includes("TXT sel._domainkey.sender.test"), "the key came from the test resolver");
    const detail = await admin.json<{ sender_auth: { dkim: string; dkim_domains: string[] } }>("GET", `/api/tenant/email/messages/${goodRow!.id}`);
    assert.equal(detail.body.sender_auth.dkim, "pass");
    assert.deepEqual(detail.body.sender_auth.dkim_domains, ["sender.test"]);

    // Refusing DMARC failures: the tampered message is now refused, the good one still accepted.
    const saved = await admin.json("PUT", "/api/tenant/email/settings/booking", { access: "forwarding", refuse_dmarc_fail: true });
    assert.equal(saved.status, 200);
    const refusedSubject = `dkim refused ${randomBytes(4).toString("hex")}`;
    const refused = await sendWithNodemailer({
      port: inbound.smtpPort,
      to: address,
      raw: (await sign(refusedSubject)).replace("Signed booking 9001.", "Signed booking 9003."),
    });
    assert.equal(refused.ok, false);
    assert.equal(refused.code, 554);
    assert.deepEqual(await rowsWithSubject(refusedSubject), []);
    const acceptedSubject = `dkim accepted ${randomBytes(4).toString("hex")}`;
    assert.equal((await sendWithNodemailer({ port: inbound.smtpPort, to: address, raw: await sign(acceptedSubject) })).ok, true);
    await admin.json("PUT", "/api/tenant/email/settings/booking", { access: "forwarding", refuse_dmarc_fail: false });
  });

  it("applies the allowed-senders list, but always lets Gmail's forwarding confirmation through and shows its code", async () => {
    assert.equal((await admin.json("PUT", "/api/tenant/email/settings/booking", { access: "forwarding", allowed_senders: ["partner.test"] })).status, 200);
    const blockedSubject = `blocked ${randomBytes(4).toString("hex")}`;
    const blocked = await sendWithNodemailer({ port: inbound.smtpPort, to: address, raw: mime({ subject: blockedSubject }) });
    assert.equal(blocked.code, 554);
    const allowedSubject = `allowed ${randomBytes(4).toString("hex")}`;
    assert.equal((await sendWithNodemailer({ port: inbound.smtpPort, to: address, raw: mime({ subject: allowedSubject, from: "ops@mail.partner.test" }) })).ok, true);
    assert.equal((await rowsWithSubject(allowedSubject)).length, 1);
    const confirmation = mime({
      subject: "(#843920175) Gmail Forwarding Confirmation - Receive Mail from owner@gmail.com",
      from: '"Gmail Team" <forwarding-noreply@google.com>',
      body: "Confirmation code: 843920175\r\n\r\nhttps://mail-settings.google.com/mail/vf-%5BANGj%5D-Ab12\r\n",
    });
    assert.equal((await sendWithNodemailer({ port: inbound.smtpPort, to: address, raw: confirmation })).ok, true);
    const settings = await admin.json<{ booking: { forwarding: { verification: { code: string; link: string; provider: string }; health: { messages_24h: number; last_message_at: string | null; send_test_mail: boolean } } } }>(
      "GET",
      "/api/tenant/email/settings",
    );
    const fwd = settings.body.booking.forwarding;
    assert.equal(fwd.verification.provider, "gmail");
    assert.equal(fwd.verification.code, "843920175");
    assert.equal(fwd.verification.link, "https://mail-settings.google.com/mail/vf-%5BANGj%5D-Ab12");
    assert.ok(fwd.health.messages_24h >= 8, `messages_24h=${fwd.health.messages_24h}`);
    assert.ok(fwd.health.last_message_at);
    assert.equal(fwd.health.send_test_mail, false);
    await admin.json("PUT", "/api/tenant/email/settings/booking", { access: "forwarding", allowed_senders: [] });
  });

  it("loses nothing that got 250 when the inbound process is killed -9 during DATA", async () => {
    const accepted: string[] = [];
    const failed: string[] = [];
    let killed = false;
    const sender = async (lane: number): Promise<void> => {
      for (let i = 0; i < 40 && !killed; i++) {
        const subject = `kill ${lane}-${i} ${randomBytes(3).toString("hex")}`;
        // ~100 KB each, so a DATA is often in flight when the kill lands.
        const r = await sendWithNodemailer({ port: inbound.smtpPort, to: address, raw: mime({ subject, body: "y".repeat(76).concat("\r\n").repeat(1300) }) });
        (r.ok ? accepted : failed).push(subject);
      }
    };
    const lanes = [0, 1, 2, 3].map((lane) => sender(lane));
    await waitFor(() => accepted.length >= 6, { timeoutMs: 60_000, what: "six accepted messages" });
    await inbound.kill("SIGKILL");
    killed = true;
    await Promise.all(lanes);
    assert.ok(failed.length >= 1, "at least one transaction was cut by the kill");
    inbound = await startInboundProcess(inboundEnv);
    for (const subject of accepted) assert.equal((await rowsWithSubject(subject)).length, 1, `"${subject}" got 250 and must be stored once`);
  });
});
