import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { graphOrgOptions } from "@/lib/email/api/api-providers";
import { adminConsentUrl } from "./mailbox-config";

let dataDir: string;
before(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), "org-options-test-"));
  process.env.DATA_DIR = dataDir;
});
after(() => rmSync(dataDir, { recursive: true, force: true }));

const env = { GRAPH_POLL_SECONDS: 10, GRAPH_SHARED_POLL_SECONDS: 15 } as Parameters<typeof graphOrgOptions>[1];

test("a shared mailbox reads /users/{address}, polls at the shared interval and does not subscribe", () => {
  const o = graphOrgOptions({ mailboxKind: "shared", address: "reservations@contoso.example", oauthConnectedEmail: "admin@contoso.example" }, env);
  assert.deepEqual(o, {
    provider: {
      mailboxAddress: "reservations@contoso.example",
      accessDeniedMessage:
        "admin@contoso.example no longer has access to the shared mailbox reservations@contoso.example (Microsoft Graph ErrorAccessDenied). Give the account Full Access to the mailbox again, or reconnect with an account that has it.",
    },
    pollSeconds: 15,
    push: false,
  });
});

test("app-only reads /users/{address} and subscribes; an own mailbox stays on /me", () => {
  const app = graphOrgOptions({ mailboxKind: "app_only", address: "frontdesk@contoso.example", oauthConnectedEmail: null }, env);
  assert.equal(app.provider.mailboxAddress, "frontdesk@contoso.example");
  assert.deepEqual([app.pollSeconds, app.push], [10, true]);
  assert.deepEqual(graphOrgOptions({ mailboxKind: "own", address: "me@contoso.example", oauthConnectedEmail: "me@contoso.example" }, env), { provider: {}, pollSeconds: 10, push: true });
});

test("the admin-consent URL is Entra's v2.0 endpoint with Graph's .default scope", () => {
  assert.equal(
    adminConsentUrl({ tenantId: "contoso.onmicrosoft.com", clientId: "11111111-2222-3333-4444-555555555555" }),
    "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/adminconsent?client_id=11111111-2222-3333-4444-555555555555&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
  );
  assert.equal(
    adminConsentUrl({ authority: "https://login.microsoftonline.us/", tenantId: "t", clientId: "c" }),
    "https://login.microsoftonline.us/t/v2.0/adminconsent?client_id=c&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
  );
});
