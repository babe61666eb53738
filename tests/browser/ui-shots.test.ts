/**
 * Screenshots of the feature components on the kit (issue 17), for people to look at: a forwarding
 * mailbox card with its address and guides, the organisation form of each kind, the alert notices
 * with "Try again", and the webhooks page with an endpoint and a delivery log row; en and tr, desktop
 * and phone (tests/browser/ui-shots.ts), into UI_SHOTS_DIR or test-results/ui-shots/. The forwarding
 * address is real (created through the page); the alert notice and the webhook list are served
 * from fixtures with page.route, because reaching them for real takes hours of failures or an
 * endpoint this machine cannot reach; their behaviour has its own integration tests.
 * The message dialog with sender-auth badges is photographed in forwarding.test.ts (real mail).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { hashPassword } from "@/lib/auth/password";
import { closeDb } from "@/lib/db/client";
import { createTenantWithAdmin } from "@/lib/db/queries/tenants";
import { launchBrowser } from "@/tests/harness/browser";
import { shootStates } from "./ui-shots";

const UI_TIMEOUT = 30_000;
const DIR = process.env.UI_SHOTS_DIR ?? path.resolve(import.meta.dirname, "..", "..", "test-results", "ui-shots");

function appUrl(): string {
  const url = process.env.TEST_APP_URL;
  if (!url || !process.env.DATABASE_URL) throw new Error("TEST_APP_URL and DATABASE_URL must be set: run with scripts/run-tests.ts");
  return url.replace(/\/+$/, "");
}

describe("feature component screenshots", () => {
  const password = "ui-shots-password";
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    const email = `shots-${randomUUID().slice(0, 8)}@hotel.test`;
    await createTenantWithAdmin({ name: "Grand Hotel", email, passwordHash: await hashPassword(password) });
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US" });
    context.setDefaultTimeout(UI_TIMEOUT);
    page = await context.newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await page.goto(`${appUrl()}/login`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL("**/settings/email");
  });

  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await closeDb();
  });

  test("forwarding card with its address and guides", async () => {
    const card = page.locator('article[data-email-type="booking"]');
    await card.getByRole("radio", { name: /^Forwarding/ }).click();
    await card.getByRole("button", { name: "Create forwarding address" }).click();
    await card.getByTestId("forwarding-address").waitFor();
    const details = card.locator("details");
    await details.locator("summary").click();
    assert.equal(await details.getAttribute("open"), "");
    const files = await shootStates(page, "forwarding-card", { dir: DIR, target: () => card });
    assert.equal(files.length, 4);
  });

  test("organisation form of each kind", async () => {
    const card = page.locator('article[data-email-type="stopsale"]');
    // The kind by its position (own mailbox first), so it is found in either language.
    const shots: Array<[string, RegExp, number]> = [
      ["org-shared", /^Microsoft/, 1],
      ["org-app-only", /^Microsoft/, 2],
      ["org-delegated", /^Google/, 1],
    ];
    const kindRadio = (position: number) => card.getByTestId("organisation-mailbox").getByRole("radio").nth(position);
    for (const [name, provider, position] of shots) {
      await card.getByRole("radio", { name: provider }).first().click();
      await kindRadio(position).click();
      await card.getByTestId("organisation-mailbox").getByRole("form").waitFor();
      const files = await shootStates(page, name, { dir: DIR, target: () => card, prepare: () => kindRadio(position).click() });
      assert.equal(files.length, 4);
    }
  });

  test("an alert notice with Try again", async () => {
    const since = new Date(Date.now() - 2 * 3600_000).toISOString();
    await page.route("**/api/tenant/email/alerts", (route) =>
      route.fulfill({
        json: {
          notices: [
            { email_type: "booking", kind: "failure", code: "auth", since, status: "paused" },
            { email_type: "stopsale", kind: "quiet", code: null, since: null, status: "connected" },
          ],
        },
      }),
    );
    await page.reload();
    const section = page.locator('section[aria-labelledby="alert-notices-title"]');
    await section.getByRole("button", { name: "Try again" }).waitFor();
    const files = await shootStates(page, "alert-notices", { dir: DIR, target: () => section });
    assert.equal(files.length, 4);
    await page.unroute("**/api/tenant/email/alerts");
  });

  test("the webhooks page with one endpoint and a delivery log row", async () => {
    const now = Date.now();
    await page.route("**/api/tenant/webhooks", (route) =>
      route.fulfill({
        json: {
          endpoints: [
            {
              id: "0b7c8a2e-4a8e-4a4c-9a43-9d8a2f0f3a11",
              url: "https://hooks.grandhotel.example/mail/inbound",
              eventTypes: ["message.received", "mailbox.status_changed"],
              inlineRawMaxBytes: 0,
              enabled: true,
              secretRotatedAt: new Date(now - 86_400_000).toISOString(),
            },
          ],
        },
      }),
    );
    await page.route("**/api/tenant/webhooks/deliveries?*", (route) =>
      route.fulfill({
        json: {
          deliveries: [
            {
              id: "d1",
              eventId: "msg_2b1f0c9e7d6a4b3c",
              eventType: "message.received",
              status: "failed",
              attempts: 8,
              lastStatusCode: 503,
              lastResponse: "Service Unavailable",
              nextAttemptAt: null,
              createdAt: new Date(now - 3_600_000).toISOString(),
            },
            {
              id: "d2",
              eventId: "evt_9c4e1a7f3b2d",
              eventType: "mailbox.status_changed",
              status: "pending",
              attempts: 2,
              lastStatusCode: 500,
              lastResponse: "Internal Server Error",
              nextAttemptAt: new Date(now + 300_000).toISOString(),
              createdAt: new Date(now - 600_000).toISOString(),
            },
          ],
        },
      }),
    );
    await page.goto(`${appUrl()}/settings/webhooks`);
    await page.getByText("hooks.grandhotel.example", { exact: false }).waitFor();
    await page.getByRole("row", { name: /Service Unavailable/ }).waitFor();
    const files = await shootStates(page, "webhooks", { dir: DIR });
    assert.equal(files.length, 4);
    assert.deepEqual(pageErrors, []);
  });
});
