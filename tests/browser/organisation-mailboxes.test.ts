/**
 * Issue 18 in Debian's Chromium (playwright-core): each organisation-mailbox setup path, from the
 * settings page to the saved card showing the mailbox connected. The built web app, the real
 * watcher, the Graph and Gmail fakes and the local OAuth server (as Entra and Google) run behind it.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { startGmailFake, type GmailFake } from "@/tests/fakes/gmail-fake";
import { startGraphFake, type GraphFake } from "@/tests/fakes/graph-fake";
import { sampleMime } from "@/tests/fakes/sample-mime";
import { useFreshDatabase } from "@/tests/harness/database";
import { startTestWebApp, type TestWebApp } from "@/tests/harness/oauth-app";
import { startOAuthServer, type OAuthTestServer } from "@/tests/harness/oauth-server";
import { waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";

const CHROMIUM = "/usr/bin/chromium";
const GMAIL_MODIFY = "https://www.googleapis.com/auth/gmail.modify";
const database = await useFreshDatabase();
const oauth: OAuthTestServer = await startOAuthServer();

const { hashPassword } = await import("@/lib/auth/password");
const { createTenantWithAdmin } = await import("@/lib/db/queries/tenants");
const { getMailbox } = await import("@/lib/db/queries/mailboxes");
const { countMailboxMessages } = await import("@/lib/db/queries/messages");
const { closeDb } = await import("@/lib/db/client");

const PASSWORD = "browser-org-password";
let app: TestWebApp;
let watcher: WatcherProcess;
let browser: Browser;
let gmail: GmailFake;
let graph: GraphFake;

async function newAdmin(): Promise<{ email: string; tenantId: string }> {
  const email = `browser-org-${randomUUID().slice(0, 8)}@hotel.test`;
  const { tenant } = await createTenantWithAdmin({ name: "Org Browser Hotel", email, passwordHash: await hashPassword(PASSWORD) });
  return { email, tenantId: tenant.id };
}

async function logIn(page: Page, email: string): Promise<void> {
  await page.goto(`${app.url}/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${app.url}/settings/email`);
}

/** Chooses the provider, then the organisation kind (retrying until React has hydrated). */
async function chooseKind(area: Locator, provider: "Google" | "Microsoft", kind: RegExp): Promise<void> {
  const providerRadio = area.getByRole("radio", { name: new RegExp(`^${provider}`) }).first();
  const kindRadio = area.getByRole("radio", { name: kind });
  const deadline = Date.now() + 15_000;
  while (!(await kindRadio.isVisible())) {
    if (Date.now() > deadline) throw new Error(`no "${String(kind)}" choice after choosing ${provider}`);
    await providerRadio.check({ force: true }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 250));
  }
  await kindRadio.check();
}

async function expectConnectedCard(area: Locator, address: string, summary: string): Promise<void> {
  const shown = area.getByTestId("organisation-summary");
  await shown.waitFor({ state: "visible", timeout: 15_000 });
  assert.equal(await shown.getByTestId("organisation-summary-address").textContent(), address);
  assert.equal(await shown.getByTestId("organisation-summary-detail").textContent(), summary);
  await area.locator('[data-slot="badge"][data-status="connected"]').first().waitFor({ state: "visible", timeout: 20_000 });
}

before(async () => {
  gmail = await startGmailFake({
    tokens: [],
    tokenResolver: async (token) => {
      const who = await oauth.resolveToken(token);
      return who?.kind === "user" ? who.email : null;
    },
  });
  graph = await startGraphFake({
    tokens: [],
    tokenResolver: async (token) => {
      const who = await oauth.resolveToken(token);
      if (!who) return null;
      return who.kind === "app" ? { kind: "app", appId: who.appId, roles: who.roles } : { kind: "user", email: who.email, scopes: who.scope.split(" ") };
    },
  });
  app = await startTestWebApp({ ...oauth.env(), DATABASE_URL: database.url });
  watcher = await startWatcherProcess({
    ...oauth.env(),
    DATABASE_URL: database.url,
    GMAIL_API_BASE_URL: gmail.rootUrl,
    GRAPH_API_BASE_URL: graph.baseUrl,
    GMAIL_POLL_SECONDS: "1",
    GRAPH_POLL_SECONDS: "1",
    GRAPH_SHARED_POLL_SECONDS: "1",
    EMAIL_BACKOFF_MIN_SECONDS: "1",
    EMAIL_BACKOFF_MAX_SECONDS: "2",
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
});

after(async () => {
  await browser?.close();
  await watcher?.stop();
  await app?.stop();
  await gmail?.close();
  await graph?.close();
  await oauth.stop();
  await closeDb();
  await database.drop();
});

describe("organisation mailbox setup in Chromium", () => {
  it("Microsoft shared mailbox: sign in as the admin, back on the settings page, saved and connected", async () => {
    const admin = await newAdmin();
    const adminAccount = "ops-admin@contoso.test";
    const shared = "groups@contoso.test";
    graph.grantMailboxAccess(adminAccount, shared);
    graph.addMessage(shared, sampleMime("shared in the browser"));
    oauth.setDefaultUser("microsoft", adminAccount);
    const context = await browser.newContext();
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    try {
      await logIn(page, admin.email);
      const area = page.locator('article[data-email-type="booking"]');
      await chooseKind(area, "Microsoft", /^A shared mailbox/);
      await area.getByLabel("Mailbox address").fill(shared);
      await area.getByRole("button", { name: "Sign in and connect the shared mailbox" }).click();
      await page.waitForURL((url) => url.pathname === "/settings/email" && url.origin === app.url, { timeout: 20_000 });
      const card = page.locator('article[data-email-type="booking"]');
      await expectConnectedCard(card, shared, `Shared mailbox, read through ${adminAccount} · polled`);
      const row = await getMailbox({ tenantId: admin.tenantId, purpose: "booking" });
      assert.deepEqual({ kind: row?.mailboxKind, address: row?.address }, { kind: "shared", address: shared });
      await waitFor(async () => (await countMailboxMessages({ mailboxId: row!.id })) === 1, { timeoutMs: 15_000, what: "the shared message" });
      assert.deepEqual(pageErrors, []);
    } finally {
      await context.close();
    }
  });

  it("Microsoft app-only: tenant, app and secret with the admin-consent link, saved and connected", async () => {
    const admin = await newAdmin();
    const mailbox = "concierge@contoso.test";
    const appId = randomUUID();
    const secret = `browser-secret-${randomUUID()}`;
    oauth.consentApp({ clientId: appId, secret, tenant: "contoso.test", roles: ["Mail.ReadWrite"] });
    graph.addMessage(mailbox, sampleMime("app-only in the browser"));
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await logIn(page, admin.email);
      const area = page.locator('article[data-email-type="stopsale"]');
      await chooseKind(area, "Microsoft", /^Any mailbox of the organisation/);
      await area.getByLabel("Mailbox address").fill(mailbox);
      await area.getByLabel("Directory (tenant) id").fill("contoso.test");
      await area.getByLabel("Application (client) id").fill(appId);
      assert.equal(
        await area.getByTestId("admin-consent-link").getAttribute("href"),
        `https://login.microsoftonline.com/contoso.test/v2.0/adminconsent?client_id=${appId}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default`,
      );
      await area.getByLabel("Client secret").fill(secret);
      await area.getByRole("button", { name: "Save and connect" }).click();
      await expectConnectedCard(area, mailbox, `App-only Microsoft Graph · app ${appId}`);
      assert.ok(!(await page.content()).includes(secret), "the secret is not on the page after saving");
      const row = await getMailbox({ tenantId: admin.tenantId, purpose: "stopsale" });
      assert.equal(row?.mailboxKind, "app_only");
      await waitFor(async () => (await countMailboxMessages({ mailboxId: row!.id })) === 1, { timeoutMs: 15_000, what: "the app-only message" });
    } finally {
      await context.close();
    }
  });

  it("Google domain-wide delegation: the key pasted, saved and connected", async () => {
    const admin = await newAdmin();
    const mailbox = "sales@hotel-group.test";
    const sa = oauth.addServiceAccount();
    oauth.setDomainWideDelegation(sa.clientId, [GMAIL_MODIFY]);
    oauth.addWorkspaceUser(mailbox);
    gmail.addMessage(mailbox, sampleMime("delegated in the browser"));
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await logIn(page, admin.email);
      const area = page.locator('article[data-email-type="booking"]');
      await chooseKind(area, "Google", /^Any mailbox of the Workspace domain/);
      await area.getByLabel("Mailbox address").fill(mailbox);
      await area.getByLabel("Service account key (JSON)").fill(JSON.stringify(sa.key));
      await area.getByRole("button", { name: "Save and connect" }).click();
      await expectConnectedCard(area, mailbox, `Domain-wide delegation · ${sa.clientEmail}`);
      assert.ok(!(await page.content()).includes("PRIVATE KEY"), "the key is not on the page after saving");
      const row = await getMailbox({ tenantId: admin.tenantId, purpose: "booking" });
      assert.equal(row?.mailboxKind, "delegated");
      await waitFor(async () => (await countMailboxMessages({ mailboxId: row!.id })) === 1, { timeoutMs: 15_000, what: "the delegated message" });
    } finally {
      await context.close();
    }
  });
});
