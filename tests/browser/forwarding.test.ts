/**
 * Issue 16 in a real browser (Debian Chromium via playwright-core) against the real app and the
 * real inbound SMTP process on the app's database: choose Forwarding, create the address, copy it
 * with the Copy button (read back from the clipboard), send mail to it with nodemailer, and watch
 * it arrive in the card's message list without a reload, with its sender checks in the dialog.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import nodemailer from "nodemailer";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { hashPassword } from "@/lib/auth/password";
import { closeDb } from "@/lib/db/client";
import { createTenantWithAdmin } from "@/lib/db/queries/tenants";
import { launchBrowser } from "@/tests/harness/browser";
import { startInboundProcess, type InboundProcess } from "@/tests/harness/inbound-process";
import { shootStates } from "./ui-shots";

const UI_TIMEOUT = 30_000;

function appUrl(): string {
  const url = process.env.TEST_APP_URL;
  if (!url || !process.env.DATABASE_URL) throw new Error("TEST_APP_URL and DATABASE_URL must be set: run with scripts/run-tests.ts");
  return url.replace(/\/+$/, "");
}

describe("forwarding mailbox in a browser", () => {
  const password = "browser-forwarding-password";
  let adminEmail: string;
  let inbound: InboundProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    adminEmail = `fwd-${randomUUID().slice(0, 8)}@hotel.test`;
    await createTenantWithAdmin({ name: "Forwarding Hotel", email: adminEmail, passwordHash: await hashPassword(password) });
    inbound = await startInboundProcess({ DATABASE_URL: process.env.DATABASE_URL, LOG_LEVEL: "warn" });
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US" });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: appUrl() });
    context.setDefaultTimeout(UI_TIMEOUT);
    page = await context.newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
  });

  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await inbound?.stop().catch(() => {});
    await closeDb();
  });

  test("choose Forwarding, copy the address, send mail to it, see it arrive", async () => {
    await page.goto(`${appUrl()}/settings/email`);
    await page.waitForURL("**/login");
    await page.getByLabel("Email").fill(adminEmail);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL("**/settings/email");
    const card = page.getByRole("article", { name: "Booking mailbox" });
    await card.waitFor();
    await page.evaluate(() => ((window as unknown as { __noReload?: boolean }).__noReload = true));

    await card.getByText("Forwarding", { exact: true }).click();
    assert.equal(await card.getByRole("radio", { name: "Forwarding" }).isChecked(), true);
    await card.getByRole("button", { name: "Create forwarding address" }).click();
    const addressInput = card.getByTestId("forwarding-address");
    await addressInput.waitFor();
    const shown = await addressInput.inputValue();
    assert.match(shown, /^booking-[a-z2-7]{32}@inbound\.localhost$/);
    // Nothing has arrived yet: the page suggests a test mail to this address.
    await card.getByText(`Send a test mail to ${shown}`).waitFor();
    for (const heading of ["Gmail / Google Workspace", "Outlook / Microsoft 365", "cPanel / Plesk hosting"]) {
      assert.equal(await card.getByText(heading, { exact: true }).count(), 1, heading);
    }

    await card.getByTestId("forwarding-copy").click();
    await card.getByTestId("forwarding-copy").getByText("Copied").waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, shown);

    const subject = `Forwarded reservation ${randomUUID().slice(0, 6)}`;
    const transport = nodemailer.createTransport({ host: "127.0.0.1", port: inbound.smtpPort, secure: false, ignoreTLS: true, name: "sender.test" });
    const info = await transport.sendMail({
      from: "Anex Tour <res@anextour.test>",
      to: copied,
      subject,
      text: "Please confirm reservation 5150 for 2 adults.",
    });
    transport.close();
    assert.match(info.response, /^250 /);

    const row = card.getByRole("row", { name: new RegExp(subject) });
    await row.waitFor();
    await row.getByText("Processed").waitFor();
    await row.getByRole("button", { name: new RegExp(subject) }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("Please confirm reservation 5150").waitFor();
    await dialog.getByTestId("sender-auth").waitFor();
    assert.equal(await dialog.locator('[data-check="dkim"]').getAttribute("data-result"), "none");
    // With UI_SHOTS_DIR set: the dialog with its sender checks, in en and tr, desktop and phone.
    await shootStates(page, "message-dialog-sender-auth", {
      target: () => dialog,
      reset: async () => {
        if (await dialog.isVisible()) {
          await page.keyboard.press("Escape");
          await dialog.waitFor({ state: "hidden" });
        }
      },
      prepare: async () => {
        // The card's name is translated: find it by its mailbox type.
        const anyLanguageRow = page.locator('article[data-email-type="booking"]').getByRole("row", { name: new RegExp(subject) });
        await anyLanguageRow.getByRole("button", { name: new RegExp(subject) }).click();
        await dialog.getByTestId("sender-auth").waitFor();
      },
    });
    await page.keyboard.press("Escape");
    assert.equal(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload), true);
    assert.deepEqual(pageErrors, []);
  });
});
