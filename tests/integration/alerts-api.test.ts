/**
 * Issue 15 routes through the built app: the alert notices, "Try again" (a paused mailbox resumes
 * and the real watcher reconnects to a private Dovecot), the per-mailbox quiet warning switch and
 * the user's own alert preferences. Session required, viewers may not write, bad input names the
 * field, and one tenant never sees or changes another's.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createLoggedInAdmin, createLoggedInUser, getAppUrl, type AppClient } from "@/tests/harness/app-client";
import { startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";

// The app under test and this process share DATABASE_URL (set by scripts/run-tests.ts).
const { closeDb } = await import("@/lib/db/client");
const { getMailbox } = await import("@/lib/db/queries/mailboxes");
const { recordQuietWarning } = await import("@/lib/db/queries/mailbox-alerts");
const { getAlertPreferences } = await import("@/lib/db/queries/users");
const { getDb } = await import("@/lib/db/client");
const { sql } = await import("drizzle-orm");

type ApiError = { error: { code: string; details?: { fields?: Record<string, string> } } };
type Notices = { notices: { email_type: string; kind: string; code: string | null; since: string | null; status: string }[] };

let dovecot: DovecotInstance;
let watcher: WatcherProcess;
let admin: AppClient;
let viewer: AppClient;
let other: AppClient;

const settings = (): Record<string, unknown> => ({
  host: "127.0.0.1",
  port: dovecot.imapPort,
  address: "alerts@hotel.test",
  username: "alerts",
  password: "alerts-secret",
  tls_mode: "none",
  auth_method: "password",
  use_idle: true,
  folder: "INBOX",
});

async function waitForStatus(tenantId: string, status: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => (await getMailbox({ tenantId, purpose: "booking" }))?.status === status, { timeoutMs, what: `booking ${status}` });
}

before(async () => {
  dovecot = await startDovecot({ users: [{ name: "alerts", password: "alerts-secret" }] });
  watcher = await startWatcherProcess({
    EMAIL_PAUSE_AFTER_AUTH_FAILURES: "2",
    EMAIL_PAUSE_WINDOW_SECONDS: "3600",
    EMAIL_AUTH_RETRY_SECONDS: "1",
    EMAIL_BACKOFF_MIN_SECONDS: "1",
    EMAIL_BACKOFF_MAX_SECONDS: "1",
    ALERT_SCAN_SECONDS: "1",
    ALERT_GRACE_SECONDS: "600",
  });
  admin = await createLoggedInAdmin();
  viewer = await createLoggedInUser({ tenantId: admin.tenantId, role: "viewer" });
  other = await createLoggedInAdmin();
  const saved = await admin.json("PUT", "/api/tenant/email/settings/booking", settings());
  assert.equal(saved.status, 200, JSON.stringify(saved.body));
  await waitForStatus(admin.tenantId, "connected");
});

after(async () => {
  await watcher?.stop();
  await dovecot?.stop();
  await closeDb();
});

describe("alert routes over HTTP", () => {
  it("lists the tenant's active notices only, for a session", async () => {
    assert.equal((await fetch(`${getAppUrl()}/api/tenant/email/alerts`)).status, 401);
    const none = await admin.json<Notices>("GET", "/api/tenant/email/alerts");
    assert.equal(none.status, 200);
    assert.deepEqual(none.body.notices, []);
    const mailbox = (await getMailbox({ tenantId: admin.tenantId, purpose: "booking" }))!;
    const warnedAt = new Date("2026-06-01T10:00:00.000Z");
    assert.ok(await recordQuietWarning({ mailboxId: mailbox.id, tenantId: admin.tenantId, now: warnedAt }));
    const listed = await viewer.json<Notices>("GET", "/api/tenant/email/alerts");
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.notices, [{ email_type: "booking", kind: "quiet", code: null, since: warnedAt.toISOString(), status: "connected" }]);
    const foreign = await other.json<Notices>("GET", "/api/tenant/email/alerts");
    assert.deepEqual(foreign.body.notices, [], "another tenant sees none of it");
    await getDb().execute(sql`UPDATE mailbox_alerts SET quiet_warned_at = NULL WHERE mailbox_id = ${mailbox.id}`);
  });

  it("turns the quiet warning on and off for admins; viewers get 403, bad input 400 with the field", async () => {
    const path = "/api/tenant/email/settings/booking/quiet-alert";
    const anonymous = await fetch(`${getAppUrl()}${path}`, { method: "PUT", headers: { "content-type": "application/json", origin: getAppUrl() }, body: "{}" });
    assert.equal(anonymous.status, 401);
    assert.equal((await viewer.json("PUT", path, { enabled: true })).status, 403);
    const bad = await admin.json<ApiError>("PUT", path, { enabled: "yes" });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "validation_failed");
    assert.deepEqual(Object.keys(bad.body.error.details?.fields ?? {}), ["enabled"]);
    const on = await admin.json<{ quiet_alert: boolean }>("PUT", path, { enabled: true });
    assert.deepEqual(on, { status: 200, body: { quiet_alert: true } });
    assert.equal((await getMailbox({ tenantId: admin.tenantId, purpose: "booking" }))?.quietAlert, true);
    // The other tenant has no booking mailbox: 404, and ours stays as it is.
    assert.equal((await other.json("PUT", path, { enabled: false })).status, 404);
    assert.equal((await getMailbox({ tenantId: admin.tenantId, purpose: "booking" }))?.quietAlert, true);
    const off = await admin.json<{ quiet_alert: boolean }>("PUT", path, { enabled: false });
    assert.deepEqual(off, { status: 200, body: { quiet_alert: false } });
    assert.equal((await getMailbox({ tenantId: admin.tenantId, purpose: "booking" }))?.quietAlert, false);
    assert.equal((await admin.json<ApiError>("PUT", "/api/tenant/email/settings/invoices/quiet-alert", { enabled: true })).status, 400);
  });

  it("each user sets their own alert email and language", async () => {
    const path = "/api/account/alert-preferences";
    assert.equal((await fetch(`${getAppUrl()}${path}`)).status, 401);
    const initial = await admin.json<{ alert_email: boolean; locale: string }>("GET", path);
    assert.equal(initial.status, 200);
    assert.equal(initial.body.alert_email, true);
    const bad = await admin.json<ApiError>("PUT", path, { alert_email: "no", locale: "de" });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "validation_failed");
    assert.deepEqual(Object.keys(bad.body.error.details?.fields ?? {}).sort(), ["alert_email", "locale"]);
    const changed = await viewer.json<{ alert_email: boolean; locale: string }>("PUT", path, { alert_email: false, locale: "tr" });
    assert.deepEqual(changed, { status: 200, body: { alert_email: false, locale: "tr" } });
    assert.deepEqual((await viewer.json("GET", path)).body, { alert_email: false, locale: "tr" });
    // The viewer's choice is theirs alone.
    assert.deepEqual((await admin.json("GET", path)).body, initial.body);
    const rows = await getDb().execute<{ id: string }>(sql`SELECT id FROM users WHERE email = ${viewer.email}`);
    assert.deepEqual(await getAlertPreferences({ userId: rows.rows[0]!.id }), { alertEmail: false, locale: "tr" });
  });

  it("Try again resumes a paused mailbox and the watcher reconnects", async () => {
    await dovecot.setPassword("alerts", "changed-by-it");
    await dovecot.restart();
    await waitForStatus(admin.tenantId, "paused", 30_000);
    const path = "/api/tenant/email/settings/booking/resume";
    assert.equal((await fetch(`${getAppUrl()}${path}`, { method: "POST", headers: { origin: getAppUrl() } })).status, 401);
    assert.equal((await viewer.json("POST", path)).status, 403);
    assert.equal((await other.json("POST", path)).status, 404, "another tenant cannot resume ours");
    assert.equal((await getMailbox({ tenantId: admin.tenantId, purpose: "booking" }))?.status, "paused");
    await dovecot.setPassword("alerts", "alerts-secret");
    const resumed = await admin.json<{ status: string }>("POST", path);
    assert.deepEqual(resumed, { status: 200, body: { status: "connecting" } });
    await waitForStatus(admin.tenantId, "connected");
    const row = await getMailbox({ tenantId: admin.tenantId, purpose: "booking" });
    assert.equal(row?.lastErrorCode, null);
  });
});
