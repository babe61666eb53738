import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ImapFlow } from "imapflow";
import { UNREADABLE_ERROR, UNREADABLE_MESSAGE } from "@/tests/fixtures/odd-mail/corpus";
import { createLoggedInAdmin, getAppUrl, type AppClient } from "@/tests/harness/app-client";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";
import { plainImapSettingsBody } from "@/tests/harness/imap-mailbox";

// The app under test and this process share DATABASE_URL (set by scripts/run-tests.ts).
const { closeDb } = await import("@/lib/db/client");
const { getMailbox } = await import("@/lib/db/queries/mailboxes");

type Config = Record<string, unknown> & { has_password: boolean; host: string };
type Item = { id: string; subject: string | null; status: string; error: string | null; attachments: unknown[] };
type Health = Record<"booking" | "stopsale", { status: string; last_sync: string | null; error_count: number; processed_24h: number; hourly: { processed: number }[] }>;

let dovecot: DovecotInstance;
let watcher: WatcherProcess;
let admin: AppClient;

const settings = (overrides: Record<string, unknown> = {}): Record<string, unknown> => plainImapSettingsBody({ port: dovecot.imapPort, overrides });

before(async () => {
  dovecot = await startDovecot({ users: [{ name: "rez", password: "rez-secret" }] });
  watcher = await startWatcherProcess();
  admin = await createLoggedInAdmin();
});

after(async () => {
  await watcher?.stop();
  await dovecot?.stop();
  await closeDb();
});

describe("mailbox settings API", () => {
  it("requires a session, a known email_type and a same-origin Origin", async () => {
    const anonymous = await fetch(`${getAppUrl()}/api/tenant/email/settings`);
    assert.equal(anonymous.status, 401);
    const bad = await admin.json<{ error: { code: string } }>("PUT", "/api/tenant/email/settings/invoices", settings());
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "invalid_email_type");
    const crossSite = await admin.request("PUT", "/api/tenant/email/settings/booking", settings(), { origin: "https://evil.example" });
    assert.equal(crossSite.status, 403);
  });

  it("answers invalid settings with 400 and one message per field", async () => {
    const res = await admin.json<{ error: { code: string; details: { fields: Record<string, string> } } }>(
      "PUT",
      "/api/tenant/email/settings/booking",
      { host: "imap://x/y", port: 70000, address: "not-mail", use_ssl: "yes" },
    );
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, "validation_failed");
    assert.deepEqual(Object.keys(res.body.error.details.fields).sort(), ["address", "host", "port", "use_ssl"]);
    const noPassword = await admin.json<{ error: { details: { fields: Record<string, string> } } }>(
      "PUT",
      "/api/tenant/email/settings/booking",
      settings({ password: undefined }),
    );
    assert.equal(noPassword.status, 400);
    assert.equal(noPassword.body.error.details.fields.password, "Enter the mailbox password (or an app password).");
  });

  it("tests a connection and names the exact reason it failed", async () => {
    const wrong = await admin.json<{ ok: boolean; error?: { code: string; message: string } }>(
      "POST",
      "/api/tenant/email/settings/booking/test",
      settings({ password: "nope" }),
    );
    assert.deepEqual(wrong.body, { ok: false, error: { code: "auth", message: "The server rejected the username or password." } });
    const refused = await admin.json<{ ok: boolean; error?: { code: string } }>(
      "POST",
      "/api/tenant/email/settings/booking/test",
      settings({ port: 1 }),
    );
    assert.equal(refused.body.error?.code, "refused");
    const missing = await admin.json<{ ok: boolean; error?: { code: string; message: string } }>(
      "POST",
      "/api/tenant/email/settings/booking/test",
      settings({ folder: "Nope" }),
    );
    assert.deepEqual(missing.body.error, { code: "folder_missing", message: 'The folder "Nope" does not exist in this mailbox.' });
    const dns = await admin.json<{ ok: boolean; error?: { code: string } }>(
      "POST",
      "/api/tenant/email/settings/booking/test",
      settings({ host: "imap.no-such-host.invalid" }),
    );
    assert.equal(dns.body.error?.code, "dns");
    await dovecot.append("rez", makeMessage({ subject: "waiting" }));
    const ok = await admin.json("POST", "/api/tenant/email/settings/booking/test", settings());
    assert.deepEqual(ok.body, { ok: true, folder: "INBOX", exists: 1, unseen: 1, start_counts: { unread: 1, since: null, total: 1 } });
  });

  it("validates start mode and after-ingest, counts what each start mode would import, and returns them in the config", async () => {
    type Fields = { error: { code: string; details: { fields: Record<string, string> } } };
    const bad = await admin.json<Fields>("PUT", "/api/tenant/email/settings/booking", settings({ start_mode: "since", after_ingest: "move" }));
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.error.details.fields, {
      start_since: "Choose the date to import mail from.",
      move_to_folder: "Enter the folder to move stored messages to.",
    });
    const unknown = await admin.json<Fields>("PUT", "/api/tenant/email/settings/booking", settings({ start_mode: "all", after_ingest: "delete" }));
    assert.equal(unknown.status, 400);
    assert.deepEqual(Object.keys(unknown.body.error.details.fields).sort(), ["after_ingest", "start_mode"]);
    // Test call in a folder of its own: a recent unread message and an old read one.
    await dovecot.append("rez", makeMessage({ subject: "recent" }), { folder: "Archive" });
    // SEARCH SINCE looks at the internal date, which only an APPEND with a date sets.
    const client = new ImapFlow({ host: "127.0.0.1", port: dovecot.imapPort, secure: false, doSTARTTLS: false, auth: { user: "rez", pass: "rez-secret" }, logger: false });
    client.on("error", () => undefined);
    await client.connect();
    const old = new Date("2026-01-05T10:00:00Z");
    await client.append("Archive", makeMessage({ subject: "old", date: old }), ["\\Seen"], old);
    await client.logout();
    const counts = await admin.json<{ ok: boolean; start_counts?: unknown }>(
      "POST",
      "/api/tenant/email/settings/booking/test",
      settings({ folder: "Archive", start_mode: "since", start_since: "2026-06-01" }),
    );
    assert.deepEqual(counts.body.start_counts, { unread: 1, since: 1, total: 2 });
    const saved = await admin.json<Config>(
      "PUT",
      "/api/tenant/email/settings/stopsale",
      settings({ start_mode: "since", start_since: "2026-06-01", after_ingest: "move", move_to_folder: "Processed", enabled: false }),
    );
    assert.equal(saved.status, 200);
    assert.equal(saved.body.start_mode, "since");
    assert.equal(saved.body.start_since, "2026-06-01T00:00:00.000Z");
    assert.equal(saved.body.after_ingest, "move");
    assert.equal(saved.body.move_to_folder, "Processed");
    assert.equal(saved.body.started, false);
    // Another mode clears the fields that belong to the old one.
    const plain = await admin.json<Config>("PUT", "/api/tenant/email/settings/stopsale", settings({ start_mode: "new_only", move_to_folder: "X", enabled: false }));
    assert.deepEqual([plain.body.start_mode, plain.body.start_since, plain.body.after_ingest, plain.body.move_to_folder], ["new_only", null, "mark_read", null]);
    const removed = await admin.request("DELETE", "/api/tenant/email/settings/stopsale");
    assert.equal(removed.status, 204);
  });

  it("tests a POP3 connection on the same server", async () => {
    const pop = await admin.json("POST", "/api/tenant/email/settings/stopsale/test", settings({ protocol: "pop3", port: dovecot.pop3Port }));
    assert.deepEqual(pop.body, { ok: true, folder: "INBOX", exists: 1, unseen: 1 });
    const wrong = await admin.json<{ ok: boolean; error?: { code: string } }>(
      "POST",
      "/api/tenant/email/settings/stopsale/test",
      settings({ protocol: "pop3", port: dovecot.pop3Port, password: "nope" }),
    );
    assert.equal(wrong.body.error?.code, "auth");
  });

  it("saves settings without ever returning the password, and the watcher ingests at once", async () => {
    const saved = await admin.json<Config>("PUT", "/api/tenant/email/settings/booking", settings());
    assert.equal(saved.status, 200);
    assert.equal(saved.body.has_password, true);
    assert.ok(!JSON.stringify(saved.body).includes("rez-secret"));
    const row = await getMailbox({ tenantId: admin.tenantId, purpose: "booking" });
    assert.match(row?.passwordEncrypted ?? "", /^gAAAAA/);
    const all = await admin.json<{ booking: Config | null; stopsale: Config | null }>("GET", "/api/tenant/email/settings");
    assert.equal(all.body.booking?.host, "127.0.0.1");
    assert.equal(all.body.stopsale, null);
    // The message waiting before the save arrives without any restart.
    const items = await waitFor(
      async () => {
        const res = await admin.json<{ items: Item[] }>("GET", "/api/tenant/email/messages?email_type=booking");
        return res.body.items.length === 1 ? res.body.items : null;
      },
      { timeoutMs: 10_000, what: "the waiting message" },
    );
    assert.equal(items[0]?.subject, "waiting");
    // Saving again without a password keeps the stored one.
    const again = await admin.json<Config>("PUT", "/api/tenant/email/settings/booking", settings({ password: undefined }));
    assert.equal(again.status, 200);
    assert.equal(again.body.has_password, true);
  });

  it("reports health, stats and messages, with retry for failed ones", async () => {
    await dovecot.append("rez", UNREADABLE_MESSAGE);
    const failed = await waitFor(
      async () => (await admin.json<{ items: Item[] }>("GET", "/api/tenant/email/messages?status=failed")).body.items[0],
      { timeoutMs: 10_000, what: "the failed message" },
    );
    const health = await admin.json<Health>("GET", "/api/tenant/email/health");
    assert.equal(health.body.booking.status, "connected");
    assert.equal(health.body.stopsale.status, "not_configured");
    assert.ok(health.body.booking.last_sync);
    assert.equal(health.body.booking.processed_24h, 1);
    assert.equal(health.body.booking.hourly.reduce((n, h) => n + h.processed, 0), 1);
    const stats = await admin.json<{ processed_24h: number; failed_24h: number; queue_size: number; by_type: Record<string, { failed_24h: number }> }>(
      "GET",
      "/api/tenant/email/stats",
    );
    assert.equal(stats.body.processed_24h, 1);
    assert.equal(stats.body.failed_24h, 1);
    assert.equal(stats.body.by_type.booking?.failed_24h, 1);
    assert.equal(stats.body.queue_size, 0);

    const detail = await admin.json<Item & { text: string | null }>("GET", `/api/tenant/email/messages/${failed.id}`);
    assert.equal(detail.body.error, UNREADABLE_ERROR);
    const raw = await admin.request("GET", `/api/tenant/email/messages/${failed.id}/raw`);
    assert.equal(raw.headers.get("content-type"), "message/rfc822");
    assert.equal(await raw.text(), UNREADABLE_MESSAGE);

    const retry = await admin.request("POST", `/api/tenant/email/messages/${failed.id}/retry`);
    assert.equal(retry.status, 202);
    // Still unparseable: it goes back to failed with a second attempt recorded.
    await waitFor(
      async () => {
        // The retry cleared the error; the watcher sets it again when parsing fails again.
        const res = await admin.json<Item>("GET", `/api/tenant/email/messages/${failed.id}`);
        return res.body.status === "failed" && res.body.error !== null;
      },
      { timeoutMs: 10_000, what: "the retried message to be processed again" },
    );
    const processed = (await admin.json<{ items: Item[] }>("GET", "/api/tenant/email/messages?status=processed")).body.items[0];
    assert.ok(processed);
    const retryProcessed = await admin.json<{ error: { code: string } }>("POST", `/api/tenant/email/messages/${processed.id}/retry`);
    assert.equal(retryProcessed.status, 409);
    assert.equal(retryProcessed.body.error.code, "not_failed");
  });

  it("keeps tenants apart and keeps viewers read-only", async () => {
    const other = await createLoggedInAdmin();
    const mine = (await admin.json<{ items: Item[] }>("GET", "/api/tenant/email/messages")).body.items[0];
    assert.ok(mine);
    assert.equal((await other.request("GET", `/api/tenant/email/messages/${mine.id}`)).status, 404);
    assert.equal((await other.request("GET", `/api/tenant/email/messages/${mine.id}/raw`)).status, 404);
    assert.deepEqual((await other.json<{ items: Item[] }>("GET", "/api/tenant/email/messages")).body.items, []);
    const viewer = await createLoggedInAdmin({ role: "viewer" });
    assert.equal((await viewer.request("PUT", "/api/tenant/email/settings/booking", settings())).status, 403);
    assert.equal((await viewer.request("GET", "/api/tenant/email/health")).status, 200);
  });

  it("pages messages newest first with a cursor", async () => {
    for (let i = 0; i < 3; i++) await dovecot.append("rez", makeMessage({ subject: `page ${i}` }));
    await waitFor(async () => (await admin.json<{ items: Item[] }>("GET", "/api/tenant/email/messages")).body.items.length === 5, {
      timeoutMs: 10_000,
      what: "5 messages",
    });
    const first = await admin.json<{ items: Item[]; next_cursor: string }>("GET", "/api/tenant/email/messages?limit=2");
    assert.equal(first.body.items.length, 2);
    const second = await admin.json<{ items: Item[]; next_cursor: string | null }>(
      "GET",
      `/api/tenant/email/messages?limit=10&cursor=${first.body.next_cursor}`,
    );
    assert.equal(second.body.items.length, 3);
    assert.equal(second.body.next_cursor, null);
    const ids = new Set([...first.body.items, ...second.body.items].map((m) => m.id));
    assert.equal(ids.size, 5);
    const badCursor = await admin.json<{ error: { code: string } }>("GET", "/api/tenant/email/messages?cursor=zzz");
    assert.equal(badCursor.body.error.code, "invalid_cursor");
  });

  it("removes a mailbox but keeps its ingested mail", async () => {
    const del = await admin.request("DELETE", "/api/tenant/email/settings/booking");
    assert.equal(del.status, 204);
    const all = await admin.json<{ booking: Config | null }>("GET", "/api/tenant/email/settings");
    assert.equal(all.body.booking, null);
    assert.equal((await admin.json<{ items: Item[] }>("GET", "/api/tenant/email/messages")).body.items.length, 5);
    assert.equal((await admin.request("DELETE", "/api/tenant/email/settings/booking")).status, 404);
  });

  it("lets operators ask watchers to reload with the internal token only", async () => {
    const url = `${getAppUrl()}/api/internal/start-watchers`;
    assert.equal((await fetch(url, { method: "POST" })).status, 401);
    assert.equal((await fetch(url, { method: "POST", headers: { authorization: "Bearer wrong" } })).status, 401);
    const ok = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${process.env.INTERNAL_API_TOKEN}` } });
    assert.equal(ok.status, 202);
  });
});
