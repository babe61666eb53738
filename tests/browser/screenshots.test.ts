/**
 * Screenshots of the email settings page in English and Turkish, at desktop (1280×900) and phone
 * (375×812) width, saved to test-results/screenshots/ (gitignored) for people to look at. The page
 * shows real state: a connected booking mailbox with processed and failed mail (real app, watcher,
 * Dovecot, PostgreSQL) and a stop-sale mailbox whose password is wrong. Each shot also checks that
 * nothing overflows sideways and that no raw value ("[object Object]", "undefined") leaks out.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { hashPassword } from "@/lib/auth/password";
import { closeDb } from "@/lib/db/client";
import { createTenantWithAdmin } from "@/lib/db/queries/tenants";
import { UNREADABLE_MESSAGE } from "@/tests/fixtures/odd-mail/corpus";
import { launchBrowser } from "@/tests/harness/browser";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";

const APP_URL = process.env.TEST_APP_URL?.replace(/\/+$/, "");
// A suite that cannot run fails, never skips (project rule): scripts/run-tests.ts provides both.
if (!APP_URL || !process.env.DATABASE_URL) {
  throw new Error("TEST_APP_URL and DATABASE_URL must be set (a running app and its database): run this suite through scripts/run-tests.ts");
}

const OUT_DIR = path.resolve(import.meta.dirname, "..", "..", "test-results", "screenshots");
const ADMIN_PASSWORD = "screenshot-password";
const UI_TIMEOUT = 30_000;
const VIEWPORTS = [
  { name: "desktop", width: 1280, height: 900 },
  { name: "phone", width: 375, height: 812 },
] as const;
const LANGUAGES = [
  { lang: "en", acceptLocale: "en-GB", title: "Email settings", booking: "Booking mailbox", test: "Test connection" },
  { lang: "tr", acceptLocale: "tr-TR", title: "E-posta ayarları", booking: "Rezervasyon posta kutusu", test: "Bağlantıyı test et" },
] as const;

/** Text that must never reach a user: raw objects, missing values, unfilled placeholders. */
const LEAKS = /\[object Object\]|\bundefined\b|\bNaN\b|\{[a-z_]+\}/;

function withAttachment(opts: { from: string; subject: string; body: string; filename: string }): string {
  const boundary = `b-${randomUUID()}`;
  const subject = /[^\x20-\x7e]/.test(opts.subject)
    ? `=?UTF-8?B?${Buffer.from(opts.subject).toString("base64")}?=`
    : opts.subject;
  return [
    `From: ${opts.from}`,
    "To: booking@grandhotel.test",
    `Subject: ${subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${randomUUID()}@agency.test>`,
    "MIME-Version: 1.0",
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    opts.body,
    `--${boundary}`,
    `Content-Type: application/pdf; name="${opts.filename}"`,
    `Content-Disposition: attachment; filename="${opts.filename}"`,
    "Content-Transfer-Encoding: base64",
    "",
    Buffer.from(`%PDF-1.4 ${opts.subject}`).toString("base64"),
    `--${boundary}--`,
    "",
  ].join("\r\n");
}

/** No header, control bytes: no readable content, so it is stored as failed. */
function brokenMessage(): string {
  return UNREADABLE_MESSAGE;
}

describe("settings page screenshots", () => {
  let dovecot: DovecotInstance;
  let watcher: WatcherProcess;
  let browser: Browser;
  let storageState: Awaited<ReturnType<BrowserContext["storageState"]>>;

  before(async () => {
    mkdirSync(OUT_DIR, { recursive: true });
    const email = `shots-${randomUUID().slice(0, 8)}@grandhotel.test`;
    await createTenantWithAdmin({ name: "Grand Hotel Antalya", email, passwordHash: await hashPassword(ADMIN_PASSWORD) });
    dovecot = await startDovecot({
      users: [
        { name: "booking", password: "booking-secret" },
        { name: "stopsale", password: "stopsale-secret" },
      ],
    });
    watcher = await startWatcherProcess({ DATABASE_URL: process.env.DATABASE_URL, LOG_LEVEL: "warn" });
    browser = await launchBrowser();

    // Log in once through the form; every screenshot context reuses the session cookie.
    const context = await browser.newContext({ locale: "en-GB" });
    context.setDefaultTimeout(UI_TIMEOUT);
    const page = await context.newPage();
    await page.goto(`${APP_URL}/login`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL("**/settings/email");

    // Booking works; stop sale has a wrong password, so its card shows an error and what to do.
    const put = async (type: string, body: Record<string, unknown>): Promise<void> => {
      const res = await context.request.put(`${APP_URL}/api/tenant/email/settings/${type}`, {
        data: body,
        headers: { origin: new URL(APP_URL as string).origin },
      });
      assert.equal(res.status(), 200, await res.text());
    };
    const common = { host: dovecot.host, port: dovecot.imapPort, tls_mode: "none", auth_method: "password", use_idle: true, folder: "INBOX" };
    await put("booking", { ...common, address: "booking@grandhotel.test", username: "booking", password: "booking-secret" });
    await put("stopsale", { ...common, address: "stopsale@grandhotel.test", username: "stopsale", password: "not-the-password" });

    await dovecot.append(
      "booking",
      withAttachment({
        from: "Anex Tour Reservations <res@anextour.test>",
        subject: "New booking #AX-48213 — 2 adults, 7 nights",
        body: "Dear partner,\n\nplease confirm the booking below.\nGuest: Ayşe Yılmaz\nCheck-in: 1 July\n\nKind regards",
        filename: "voucher-AX-48213.pdf",
      }),
    );
    await dovecot.append(
      "booking",
      makeMessage({
        from: "Coral Travel <booking@coraltravel.test>",
        subject: "Rezervasyon değişikliği: Çift kişilik oda, 3 gece",
        body: "Merhaba,\n\nrezervasyon tarihleri değişmiştir.\n\nİyi çalışmalar",
      }),
    );
    await dovecot.append("booking", brokenMessage());
    await dovecot.append(
      "booking",
      makeMessage({ from: "Jet2holidays <groups@jet2.test>", subject: "Group request: 12 rooms, 14–21 September" }),
    );

    // Wait until the page shows it all, then keep the session for the screenshot contexts.
    const booking = page.getByRole("article", { name: "Booking mailbox" });
    await booking.locator('[data-status="connected"]').waitFor({ timeout: 60_000 });
    await booking.locator("tbody tr").nth(3).waitFor({ timeout: 60_000 });
    await booking.locator('tbody tr[data-status="failed"]').waitFor();
    await page
      .getByRole("article", { name: "Stop sale mailbox" })
      .locator('[data-status="error"], [data-status="needs_reauth"]')
      .waitFor({ timeout: 60_000 });
    storageState = await context.storageState();
    await context.close();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await watcher?.stop().catch(() => {});
    await dovecot?.stop().catch(() => {});
    await closeDb();
  });

  async function openPage(lang: (typeof LANGUAGES)[number], viewport: { width: number; height: number }): Promise<{ context: BrowserContext; page: Page }> {
    // The language comes from the browser's Accept-Language: no cookie is set.
    const context = await browser.newContext({ storageState, viewport, locale: lang.acceptLocale });
    context.setDefaultTimeout(UI_TIMEOUT);
    const page = await context.newPage();
    await page.goto(`${APP_URL}/settings/email`);
    await page.getByRole("heading", { level: 1, name: lang.title }).waitFor();
    // The tab title follows the page's language too.
    assert.equal(await page.title(), `${lang.title} · Mailbox integration`);
    const booking = page.getByRole("article", { name: lang.booking });
    await booking.locator('[data-status="connected"]').waitFor();
    await booking.locator("tbody tr").nth(3).waitFor();
    await booking.locator('rect[data-series="processed"]').first().waitFor();
    // Let fonts and the first poll settle; the shots are for people, not for pixel diffs.
    await page.waitForTimeout(500);
    return { context, page };
  }

  async function assertLooksFinished(page: Page, what: string): Promise<void> {
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
    }));
    assert.ok(scrollWidth <= innerWidth, `${what}: page is ${scrollWidth}px wide in a ${innerWidth}px window`);
    // Buttons in table cells (Retry) must not be cut off by the cell, in either language.
    const clipped = await page.evaluate(() =>
      [...document.querySelectorAll("td button")]
        .filter((b) => {
          const cell = b.closest("td")!.getBoundingClientRect();
          const r = b.getBoundingClientRect();
          return r.right > cell.right + 1 || r.left < cell.left - 1;
        })
        .map((b) => b.textContent),
    );
    assert.deepEqual(clipped, [], `${what}: buttons cut off by their table cell`);
    const text = await page.locator("body").innerText();
    const leak = LEAKS.exec(text);
    assert.equal(leak, null, `${what}: raw value "${leak?.[0]}" on the page`);
  }

  for (const lang of LANGUAGES) {
    for (const viewport of VIEWPORTS) {
      test(`${lang.lang} at ${viewport.width}×${viewport.height}`, async () => {
        const { context, page } = await openPage(lang, viewport);
        try {
          assert.equal(await page.evaluate(() => document.documentElement.lang), lang.lang);
          await assertLooksFinished(page, `${lang.lang} ${viewport.name}`);
          await page.screenshot({ path: path.join(OUT_DIR, `settings-${lang.lang}-${viewport.name}.png`), fullPage: true });

          // The IMAP form of the failing mailbox, opened, with a failed connection test.
          const stopsale = page.locator("#mailbox-stopsale");
          await stopsale.locator('button[aria-expanded="false"]').click();
          const form = stopsale.locator("form");
          await form.waitFor();
          await form.getByRole("button", { name: lang.test }).click();
          await stopsale.getByTestId("test-result").waitFor();
          await assertLooksFinished(page, `${lang.lang} ${viewport.name} with the form open`);
          await stopsale.screenshot({ path: path.join(OUT_DIR, `settings-${lang.lang}-${viewport.name}-form.png`) });

          // A message with an attachment, opened in its dialog.
          await page.locator("#mailbox-booking").getByRole("button", { name: /New booking #AX-48213/ }).click();
          const dialog = page.getByRole("dialog");
          await dialog.getByText("voucher-AX-48213.pdf").waitFor();
          await assertLooksFinished(page, `${lang.lang} ${viewport.name} with a message open`);
          await page.screenshot({ path: path.join(OUT_DIR, `settings-${lang.lang}-${viewport.name}-message.png`) });
          await page.keyboard.press("Escape");
          await dialog.waitFor({ state: "detached" });
        } finally {
          await context.close();
        }
      });
    }
  }

  test("the language switch changes the page at once and is remembered", async () => {
    const { context, page } = await openPage(LANGUAGES[0], VIEWPORTS[0]);
    try {
      await page.getByRole("button", { name: "Türkçe" }).click();
      await page.getByRole("heading", { level: 1, name: "E-posta ayarları" }).waitFor();
      assert.equal(await page.evaluate(() => document.documentElement.lang), "tr");
      assert.equal(await page.getByRole("button", { name: "Türkçe" }).getAttribute("aria-pressed"), "true");
      const cookies = await context.cookies();
      assert.equal(cookies.find((c) => c.name === "lang")?.value, "tr");
      // The cookie wins over the browser's (English) Accept-Language on the next visit.
      await page.reload();
      await page.getByRole("heading", { level: 1, name: "E-posta ayarları" }).waitFor();
      assert.equal(await page.evaluate(() => document.documentElement.lang), "tr");
    } finally {
      await context.close();
    }
  });
});
