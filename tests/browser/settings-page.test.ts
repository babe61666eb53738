/**
 * The email settings page in a real browser (Debian Chromium via playwright-core) against the real
 * app (TEST_APP_URL), a real watcher process and a private Dovecot, all on the app's database
 * (DATABASE_URL, set by scripts/run-tests.ts): configure IMAP with a wrong password, fix it, save,
 * APPEND mail and watch it arrive without a reload, open and retry messages, remove the mailbox
 * through the confirmation dialog using the keyboard.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { hashPassword } from "@/lib/auth/password";
import { closeDb } from "@/lib/db/client";
import { createTenantWithAdmin } from "@/lib/db/queries/tenants";
import { UNREADABLE_MESSAGE } from "@/tests/fixtures/odd-mail/corpus";
import { launchBrowser } from "@/tests/harness/browser";
import { startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";

const APP_URL = process.env.TEST_APP_URL?.replace(/\/+$/, "");
// A suite that cannot run fails, never skips (project rule): scripts/run-tests.ts provides both.
if (!APP_URL || !process.env.DATABASE_URL) {
  throw new Error("TEST_APP_URL and DATABASE_URL must be set (a running app and its database): run this suite through scripts/run-tests.ts");
}

const ADMIN_PASSWORD = "browser-test-password";
const MAIL_USER = "booking";
const MAIL_PASSWORD = "booking-secret";
// The machines running this are slow and shared: generous, but bounded, waits.
const UI_TIMEOUT = 30_000;

/**
 * Mail with no readable content (no header, control bytes): the ingester stores it as failed, so it
 * can be retried. (Broken MIME with headers is shown leniently now, with warnings.) The subject only
 * tells the test's messages apart in the Dovecot mailbox.
 */
function brokenMessage(subject: string): string {
  return `${UNREADABLE_MESSAGE}${subject.replace(/[^\x20-\x7e]/g, "")}\r\n`;
}

/** A reservation with a PDF attached, so the dialog has text and an attachment to list. */
function messageWithAttachment(subject: string): string {
  const boundary = `b-${randomUUID()}`;
  return [
    "From: Anex Tour <res@anextour.test>",
    "To: booking@hotel.test",
    `Subject: ${subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${randomUUID()}@anextour.test>`,
    "MIME-Version: 1.0",
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=utf-8",
    "",
    "Please confirm reservation 4711 for 2 adults, 7 nights.",
    `--${boundary}`,
    'Content-Type: application/pdf; name="voucher-4711.pdf"',
    'Content-Disposition: attachment; filename="voucher-4711.pdf"',
    "Content-Transfer-Encoding: base64",
    "",
    Buffer.from("%PDF-1.4 fake voucher").toString("base64"),
    `--${boundary}--`,
    "",
  ].join("\r\n");
}

/** Radix moves focus in a task after the dialog unmounts: wait for it rather than sample once. */
async function waitForFocus(locator: Locator, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await locator.evaluate((el) => el === document.activeElement))) {
    if (Date.now() > deadline) assert.fail(`focus did not move to ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("email settings page in a browser", () => {
  let dovecot: DovecotInstance;
  let watcher: WatcherProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let adminEmail: string;
  const pageErrors: string[] = [];
  // The nonce CSP (proxy.ts) must not block anything the app itself runs or loads.
  const cspViolations: string[] = [];

  before(async () => {
    adminEmail = `browser-${randomUUID().slice(0, 8)}@hotel.test`;
    await createTenantWithAdmin({ name: "Browser Test Hotel", email: adminEmail, passwordHash: await hashPassword(ADMIN_PASSWORD) });
    dovecot = await startDovecot({ users: [{ name: MAIL_USER, password: MAIL_PASSWORD }] });
    // The app's database, not a fresh one: the web app under test reads and writes the same rows.
    watcher = await startWatcherProcess({ DATABASE_URL: process.env.DATABASE_URL, LOG_LEVEL: "warn" });
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US" });
    context.setDefaultTimeout(UI_TIMEOUT);
    page = await context.newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("console", (msg) => {
      if (/Content[- ]Security[- ]Policy/i.test(msg.text())) cspViolations.push(msg.text());
    });
  });

  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await watcher?.stop().catch(() => {});
    await dovecot?.stop().catch(() => {});
    await closeDb();
  });

  let card: Locator;

  test("logging in leads to the settings page with both mailboxes", async () => {
    await page.goto(`${APP_URL}/settings/email`);
    await page.waitForURL("**/login");
    await page.getByLabel("Email").fill(adminEmail);
    await page.getByLabel("Password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL("**/settings/email");
    await page.getByRole("heading", { level: 1, name: "Email settings" }).waitFor();
    assert.equal(await page.title(), "Email settings · Mailbox integration");
    card = page.getByRole("article", { name: "Booking mailbox" });
    await card.waitFor();
    await page.getByRole("article", { name: "Stop sale mailbox" }).waitFor();
    assert.equal(await card.locator('[data-status="not_configured"]').count(), 1);
  });

  test("the IMAP form validates inline and fills in well-known providers", async () => {
    const other = card.getByRole("radio", { name: "Other (IMAP)" });
    // The radio is drawn as a card: click it where a user does.
    await card.getByText("Other (IMAP)", { exact: true }).click();
    assert.equal(await other.isChecked(), true);
    const address = card.getByLabel("Email address");
    const host = card.getByLabel("Mail server", { exact: true });
    const port = card.getByLabel("Port", { exact: true });

    // Defaults: IMAP on 993 with SSL, INBOX, IDLE.
    assert.equal(await port.inputValue(), "993");
    assert.equal(await card.getByLabel("Encryption", { exact: true }).inputValue(), "implicit");
    assert.equal(await card.getByLabel("Folder", { exact: true }).inputValue(), "INBOX");
    assert.equal(await card.getByLabel("Instant delivery (IMAP IDLE)").isChecked(), true);

    await address.fill("reservations@gmail.com");
    assert.equal(await host.inputValue(), "imap.gmail.com");
    await card.getByText("Gmail accepts an app password here").waitFor();
    await address.fill("reservations@yandex.com.tr");
    assert.equal(await host.inputValue(), "imap.yandex.com");

    await address.fill("not-an-address");
    await host.fill("http://bad host");
    await card.getByRole("button", { name: "Test connection" }).click();
    await card.getByText("Enter a valid email address.").waitFor();
    await card.getByText("Enter a host name like imap.example.com").waitFor();
    assert.equal(await host.getAttribute("aria-invalid"), "true");
    // The first invalid field gets the focus.
    await waitForFocus(address, "the first invalid field");
  });

  test("a wrong password gives a clear reason; the right one tests ok and saves", async () => {
    await card.getByLabel("Email address").fill(`${MAIL_USER}@hotel.test`);
    await card.getByLabel("Mail server", { exact: true }).fill(dovecot.host);
    await card.getByLabel("Encryption", { exact: true }).selectOption("starttls");
    assert.equal(await card.getByLabel("Port", { exact: true }).inputValue(), "143", "the port follows STARTTLS");
    // The test Dovecot speaks plaintext only: that has to be chosen, and the form says what it means.
    await card.getByLabel("Encryption", { exact: true }).selectOption("none");
    assert.match(await card.getByTestId("plaintext-warning").innerText(), /password and every message cross the network in plain text/);
    await card.getByLabel("Port", { exact: true }).fill(String(dovecot.imapPort));
    await card.getByLabel("Username").fill(MAIL_USER);
    await card.getByLabel("Password", { exact: true }).fill("wrong-password");

    await card.getByRole("button", { name: "Test connection" }).click();
    const result = card.getByTestId("test-result");
    await result.waitFor();
    const failure = await result.innerText();
    assert.match(failure, /The connection test failed/);
    assert.match(failure, /username or password/i);
    assert.match(failure, /Check the password/);
    assert.doesNotMatch(failure, /\[object|undefined|wrong-password/);

    await card.getByLabel("Password", { exact: true }).fill(MAIL_PASSWORD);
    // Editing makes the old result disappear.
    await result.waitFor({ state: "detached" });
    await card.getByRole("button", { name: "Test connection" }).click();
    await result.waitFor();
    assert.match(await result.innerText(), /Connection works\. The folder INBOX has 0 messages/);

    const saved = page.waitForResponse((r) => r.url().endsWith("/api/tenant/email/settings/booking") && r.request().method() === "PUT");
    await card.getByRole("button", { name: "Save" }).click();
    assert.equal((await saved).status(), 200);
    await card.getByTestId("mailbox-notice").waitFor();
    // The saved password is never shown again, only that one is set.
    await card.getByRole("button", { name: "Change settings" }).click();
    assert.equal(await card.getByLabel("Password", { exact: true }).inputValue(), "");
    assert.equal(await card.getByLabel("Password", { exact: true }).getAttribute("placeholder"), "•••• saved — leave empty to keep");
    await card.getByText("A password is saved.").waitFor();
    // Pointing the saved mailbox elsewhere asks for the password again (issue 14 §3).
    const portField = card.getByLabel("Port", { exact: true });
    await portField.fill("10993");
    await card.getByText("You changed the server, port, encryption or username: enter the password again.", { exact: false }).first().waitFor();
    assert.equal(await card.getByLabel("Password", { exact: true }).getAttribute("aria-required"), "true");
    const blocked = page.waitForResponse((r) => r.url().includes("/api/tenant/email/settings/booking") && r.request().method() !== "GET", { timeout: 1500 }).catch(() => null);
    await card.getByRole("button", { name: "Save" }).click();
    assert.equal(await card.getByLabel("Password", { exact: true }).getAttribute("aria-invalid"), "true");
    assert.equal(await blocked, null, "nothing is sent without the password");
    await portField.fill(String(dovecot.imapPort));
    await card.getByText("A password is saved.").waitFor();
    await card.getByRole("button", { name: "Hide settings" }).click();

    await card.locator('[data-status="connected"]').waitFor({ timeout: 60_000 });
  });

  test("mail appended to the mailbox shows up, with the health card, without a reload", async () => {
    await page.evaluate(() => {
      (window as unknown as { __noReload: boolean }).__noReload = true;
    });
    const processed = card.locator("dl > div", { hasText: "Processed (24 h)" }).locator("dd");
    assert.equal((await processed.innerText()).trim(), "0");

    await dovecot.append(MAIL_USER, messageWithAttachment("Reservation 4711 — 2 adults, 7 nights"));
    const row = card.getByRole("row", { name: /Reservation 4711/ });
    await row.waitFor({ timeout: 60_000 });
    await row.getByText("Processed").waitFor();
    await card.locator("dl > div", { hasText: "Processed (24 h)" }).locator("dd", { hasText: /^1$/ }).waitFor();
    await card.getByText(/Last 24 hours: 1 processed and 0 failed/).waitFor();
    assert.notEqual(await card.locator("dl > div", { hasText: "Last sync" }).locator("dd").innerText(), "Never");
    assert.equal(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload), true);

    // Open it: text and attachments in a dialog that Escape closes.
    await row.getByRole("button", { name: /Reservation 4711/ }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("Please confirm reservation 4711").waitFor();
    await dialog.getByText("voucher-4711.pdf").waitFor();
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    // Focus returns to what opened it.
    await waitForFocus(row.getByRole("button", { name: /Reservation 4711/ }), "the message's button");
  });

  test("a failed message can be retried", async () => {
    await dovecot.append(MAIL_USER, brokenMessage("Broken voucher 9001"));
    // Unparseable mail is stored without headers: find it by its status.
    const row = card.locator('tbody tr[data-status="failed"]');
    await row.waitFor({ timeout: 60_000 });
    await row.getByText("Failed").waitFor();
    const retried = page.waitForResponse((r) => /\/api\/tenant\/email\/messages\/[^/]+\/retry$/.test(r.url()));
    await row.getByRole("button", { name: /^Retry message/ }).click();
    assert.equal((await retried).status(), 202);
    await card.getByText("The message was sent for processing again.").waitFor({ state: "attached" });
  });

  test("Remove asks first: Escape cancels, confirming removes the mailbox", async () => {
    const remove = card.getByRole("button", { name: "Remove mailbox" });
    await remove.focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("alertdialog", { name: "Remove the Booking mailbox?" });
    await dialog.waitFor();
    // Focus starts on Cancel, so a stray Enter never removes anything.
    await waitForFocus(dialog.getByRole("button", { name: "Cancel" }), "Cancel");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await waitForFocus(remove, "the Remove button");
    assert.equal(await card.locator('[data-status="not_configured"]').count(), 0, "Escape removed nothing");

    await page.keyboard.press("Enter");
    await dialog.waitFor();
    const deleted = page.waitForResponse((r) => r.url().endsWith("/api/tenant/email/settings/booking") && r.request().method() === "DELETE");
    await page.keyboard.press("Tab");
    assert.equal(await dialog.getByRole("button", { name: "Remove", exact: true }).evaluate((el) => el === document.activeElement), true);
    await page.keyboard.press("Enter");
    assert.equal((await deleted).status(), 204);
    await dialog.waitFor({ state: "detached" });
    await card.locator('[data-status="not_configured"]').waitFor();
    await card.getByText("The Booking mailbox was removed.").waitFor();
    // The Remove button is gone with the mailbox: focus continues from the card's title.
    await waitForFocus(card.getByRole("heading", { name: "Booking mailbox" }), "the card's title");

    const settings = await page.evaluate(async () => (await fetch("/api/tenant/email/settings", { credentials: "same-origin" })).json());
    assert.equal((settings as { booking: unknown }).booking, null);
    assert.deepEqual(pageErrors, []);
  });

  test("a crafted OAuth result link puts no words on the page (issue 14)", async () => {
    const phish = "Your mailbox is compromised, call +1 555 0100";
    const q = new URLSearchParams({ oauth: "error", email_type: "booking", provider: "google", message: phish, connected_email: "evil@attacker.test" });
    await page.goto(`${APP_URL}/settings/email?${q.toString()}`);
    const booking = page.getByRole("article", { name: "Booking mailbox" });
    await booking.waitFor();
    // Choosing Google mounts the OAuth control, which reads the outcome of a redirect on mount
    // (until React has hydrated, the choice does nothing: keep choosing until the button shows).
    const button = booking.getByRole("button", { name: "Connect with Google" });
    const deadline = Date.now() + UI_TIMEOUT;
    while (!(await button.isVisible())) {
      if (Date.now() > deadline) assert.fail('no visible "Connect with Google" button');
      await booking.getByRole("radio", { name: /^Google/ }).first().check({ force: true }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 250));
    }
    // The control consumed the parameters (so its script ran) without showing them.
    await page.waitForFunction(() => !window.location.search.includes("oauth="), undefined, { timeout: UI_TIMEOUT });
    const text = await page.locator("body").innerText();
    assert.ok(!text.includes("compromised") && !text.includes("evil@attacker.test"), text);
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(pageErrors, []);
  });
});
