/**
 * The OAuth popup flow in Debian's Chromium (playwright-core): log in through the real login page,
 * open /settings/email, Connect with Google (booking) and Microsoft (stop-sale); each popup completes
 * at the local OAuth server (it approves at once), posts its result and closes, and the page shows
 * the connected address. Then the same with popups blocked: the whole page goes to the provider and
 * back to the settings page.
 *
 * Finds controls by accessible role and name ("Connect with Google" / "Connect with Microsoft"), so it
 * does not depend on how the settings page lays out <OAuthConnect>; if the page first asks which
 * provider to use (radio "Google" / "Microsoft"), that choice is made first.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import { useFreshDatabase } from "@/tests/harness/database";
import { startTestWebApp, type TestWebApp } from "@/tests/harness/oauth-app";
import { startOAuthServer, type OAuthTestServer } from "@/tests/harness/oauth-server";

const CHROMIUM = "/usr/bin/chromium";
// A suite that cannot run fails, never skips (project rule): no Chromium is a broken test machine.
if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is not installed (apt-get install -y chromium): this suite needs it`);

const database = await useFreshDatabase();
const oauth: OAuthTestServer = await startOAuthServer();
Object.assign(process.env, oauth.env());

const { hashPassword } = await import("@/lib/auth/password");
const { createTenantWithAdmin } = await import("@/lib/db/queries/tenants");
const { getMailbox } = await import("@/lib/db/queries/mailboxes");
const { closeDb } = await import("@/lib/db/client");

const PASSWORD = "browser-oauth-password";
let app: TestWebApp;
let browser: Browser;

async function newAdmin(): Promise<{ email: string; tenantId: string }> {
  const email = `browser-${randomUUID().slice(0, 8)}@hotel.test`;
  const { tenant } = await createTenantWithAdmin({ name: "Browser Hotel", email, passwordHash: await hashPassword(PASSWORD) });
  return { email, tenantId: tenant.id };
}

async function logIn(page: Page, email: string): Promise<void> {
  await page.goto(`${app.url}/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${app.url}/settings/email`);
}

/** The mailbox's card if the page has one per mailbox, else the page. */
function mailboxArea(page: Page, emailType: "booking" | "stopsale"): Page | Locator {
  return page.locator(`article[data-email-type="${emailType}"]`);
}

async function connectButton(area: Page | Locator, provider: "Google" | "Microsoft"): Promise<Locator> {
  const button = area.getByRole("button", { name: `Connect with ${provider}` });
  const choice = area.getByRole("radio", { name: new RegExp(`^${provider}`) });
  // Until React has hydrated, choosing the provider does nothing: keep choosing until the button shows.
  const deadline = Date.now() + 15_000;
  while (!(await button.isVisible())) {
    if (Date.now() > deadline) throw new Error(`no visible "Connect with ${provider}" button`);
    if (await choice.count()) await choice.first().check({ force: true }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 250));
  }
  return button;
}

async function connectInPopup(page: Page, emailType: "booking" | "stopsale", provider: "Google" | "Microsoft", address: string): Promise<number> {
  const area = mailboxArea(page, emailType);
  const button = await connectButton(area, provider);
  const started = performance.now();
  const popupOpened = page.waitForEvent("popup");
  await button.click();
  const popup = await popupOpened;
  await popup.waitForEvent("close", { timeout: 20_000 });
  await area.getByText(address).first().waitFor({ state: "visible", timeout: 10_000 });
  return performance.now() - started;
}

before(async () => {
  app = await startTestWebApp({ ...oauth.env(), DATABASE_URL: database.url });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
});

after(async () => {
  await browser?.close();
  await app?.stop();
  await oauth.stop();
  await closeDb();
  await database.drop();
});

describe("Connect with Google / Microsoft in Chromium", () => {
  it("popup: the provider page completes, the popup closes and the page shows the connected address", async () => {
    const admin = await newAdmin();
    oauth.setDefaultUser("google", "frontdesk@gmail.test");
    oauth.setDefaultUser("microsoft", "stopsale@outlook.test");
    const context: BrowserContext = await browser.newContext();
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    try {
      await logIn(page, admin.email);
      const googleMs = await connectInPopup(page, "booking", "Google", "frontdesk@gmail.test");
      const microsoftMs = await connectInPopup(page, "stopsale", "Microsoft", "stopsale@outlook.test");
      console.log(`popup flow, click to address shown: Google ${Math.round(googleMs)} ms, Microsoft ${Math.round(microsoftMs)} ms`);
      assert.equal((await getMailbox({ tenantId: admin.tenantId, purpose: "booking" }))?.oauthConnectedEmail, "frontdesk@gmail.test");
      assert.equal((await getMailbox({ tenantId: admin.tenantId, purpose: "stopsale" }))?.oauthConnectedEmail, "stopsale@outlook.test");
      assert.equal((await getMailbox({ tenantId: admin.tenantId, purpose: "stopsale" }))?.provider, "microsoft");
      // Still on the settings page, never navigated away.
      assert.equal(new URL(page.url()).pathname, "/settings/email");

      // Disconnect (with a confirmation) revokes at Google and erases the tokens.
      const revocationsBefore = oauth.revocations.length;
      await mailboxArea(page, "booking").getByRole("button", { name: "Disconnect" }).click();
      const dialog = page.getByRole("alertdialog");
      await dialog.waitFor({ state: "visible" });
      await dialog.getByRole("button", { name: "Disconnect" }).click();
      await mailboxArea(page, "booking").getByText("The mailbox was disconnected.").waitFor({ state: "visible", timeout: 10_000 });
      assert.equal(oauth.revocations.length, revocationsBefore + 1);
      const booking = await getMailbox({ tenantId: admin.tenantId, purpose: "booking" });
      assert.equal(booking?.oauthRefreshTokenEncrypted, null);
      assert.equal(booking?.oauthConnectedEmail, null);
      assert.deepEqual(pageErrors, []);
    } finally {
      await context.close();
    }
  });

  it("popup blocked: the whole page goes to the provider and comes back to the settings page, which shows the address", async () => {
    const admin = await newAdmin();
    oauth.setDefaultUser("microsoft", "blocked@outlook.test");
    const context = await browser.newContext();
    // As a popup blocker does: window.open gives nothing.
    await context.addInitScript(() => {
      window.open = () => null;
    });
    const page = await context.newPage();
    const popups: Page[] = [];
    page.on("popup", (p) => popups.push(p));
    const navigations: string[] = [];
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) navigations.push(frame.url());
    });
    try {
      await logIn(page, admin.email);
      const area = mailboxArea(page, "booking");
      const button = await connectButton(area, "Microsoft");
      const started = performance.now();
      await button.click();
      await mailboxArea(page, "booking").getByText("blocked@outlook.test").first().waitFor({ state: "visible", timeout: 20_000 });
      console.log(`full-page redirect flow, click to address shown: ${Math.round(performance.now() - started)} ms`);
      assert.equal(popups.length, 0);
      // The page itself went through the callback and came back to the settings page.
      assert.ok(navigations.some((u) => u.startsWith(`${app.url}/api/oauth/microsoft/callback?`)), navigations.join("\n"));
      assert.ok(navigations.some((u) => u.startsWith(`${app.url}/settings/email?oauth=success`)), navigations.join("\n"));
      assert.equal((await getMailbox({ tenantId: admin.tenantId, purpose: "booking" }))?.oauthConnectedEmail, "blocked@outlook.test");
    } finally {
      await context.close();
    }
  });

  it("a denied consent in the popup shows the provider's refusal and changes nothing", async () => {
    const admin = await newAdmin();
    oauth.scriptNextAuthorization({ provider: "google", error: "access_denied" });
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await logIn(page, admin.email);
      const area = mailboxArea(page, "booking");
      const button = await connectButton(area, "Google");
      const popupOpened = page.waitForEvent("popup");
      await button.click();
      const popup = await popupOpened;
      await popup.waitForEvent("close", { timeout: 20_000 });
      await area.getByText("Access was not granted at Google, so the mailbox was not changed.").waitFor({ state: "visible", timeout: 10_000 });
      assert.equal(await getMailbox({ tenantId: admin.tenantId, purpose: "booking" }), null);
    } finally {
      await context.close();
    }
  });
});
