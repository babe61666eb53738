import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { createSecretBox } from "@/lib/crypto/secret-box";
import { generateFernetKey } from "@/lib/crypto/fernet";
import { useFreshDatabase } from "@/tests/harness/database";

// `npm run cli -- key rotate` as an operator runs it: a child process against this suite's database.
const db = await useFreshDatabase();
const { closeDb } = await import("@/lib/db/client");
const { createTenant } = await import("@/lib/db/queries/tenants");
const { saveMailbox, getMailbox } = await import("@/lib/db/queries/mailboxes");
const { createOAuthFlow, getOAuthFlow } = await import("@/lib/db/queries/oauth-flows");

const oldKey = generateFernetKey();
const newKey = generateFernetKey();
const oldBox = createSecretBox([oldKey]);
const newOnly = createSecretBox([newKey]);

type Counts = { checked: number; rotated: number; current: number; changed_meanwhile: number; undecryptable: number };
type Report = { columns: Record<string, Counts>; total: Counts };

function runRotate(keys: string[]): Report {
  const result = spawnSync(process.execPath, ["--import", "tsx", "scripts/cli.ts", "key", "rotate"], {
    env: { ...process.env, DATABASE_URL: db.url, ENCRYPTION_KEYS: keys.join(","), LOG_LEVEL: "silent" },
    encoding: "utf8",
  });
  assert.equal(result.status, 0, result.stderr);
  // The report is counts only: no token and no plaintext may reach the output.
  for (const secret of ["pw-one", "pw-two", "refresh-1", "access-1", "client-secret-1", "verifier-1"]) {
    assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret));
  }
  return JSON.parse(result.stdout) as Report;
}

let tenantIds: string[] = [];

before(async () => {
  tenantIds = [(await createTenant({ name: "Rot A" })).id, (await createTenant({ name: "Rot B" })).id];
  const [a, b] = tenantIds as [string, string];
  await saveMailbox({ tenantId: a, purpose: "booking", fields: { host: "imap.example.com", passwordEncrypted: oldBox.encrypt("pw-one") } });
  await saveMailbox({ tenantId: a, purpose: "stopsale", fields: { host: "imap.example.com", passwordEncrypted: newOnly.encrypt("pw-two") } });
  await saveMailbox({
    tenantId: b,
    purpose: "booking",
    fields: {
      provider: "google",
      authMethod: "oauth2",
      oauthProvider: "google",
      oauthClientSecretEncrypted: oldBox.encrypt("client-secret-1"),
      oauthAccessTokenEncrypted: oldBox.encrypt("access-1"),
      oauthRefreshTokenEncrypted: oldBox.encrypt("refresh-1"),
    },
  });
  await createOAuthFlow({
    id: "flow-rotation-1",
    tenantId: b,
    sessionId: "s",
    provider: "google",
    purpose: "stopsale",
    access: "imap",
    secretsEncrypted: oldBox.encrypt("verifier-1"),
    expiresAt: new Date(Date.now() + 600_000),
  });
});

after(async () => {
  await closeDb();
  await db.drop();
});

describe("npm run cli -- key rotate", () => {
  it("re-encrypts every stored secret under the newest key, reports counts, and a rerun changes nothing", async () => {
    const first = runRotate([newKey, oldKey]);
    assert.deepEqual(first.total, { checked: 6, rotated: 5, current: 1, changed_meanwhile: 0, undecryptable: 0 });
    assert.deepEqual(first.columns["mailboxes.password_encrypted"], { checked: 2, rotated: 1, current: 1, changed_meanwhile: 0, undecryptable: 0 });
    assert.equal(first.columns["oauth_flows.code_verifier_encrypted"]?.rotated, 1);

    // Every secret now decrypts with the new key alone: the old key can be dropped.
    const [a, b] = tenantIds as [string, string];
    const booking = await getMailbox({ tenantId: a, purpose: "booking" });
    const stopsale = await getMailbox({ tenantId: a, purpose: "stopsale" });
    const oauth = await getMailbox({ tenantId: b, purpose: "booking" });
    const flow = await getOAuthFlow({ id: "flow-rotation-1" });
    assert.equal(newOnly.decrypt(booking?.passwordEncrypted ?? ""), "pw-one");
    assert.equal(newOnly.decrypt(stopsale?.passwordEncrypted ?? ""), "pw-two");
    assert.equal(newOnly.decrypt(oauth?.oauthClientSecretEncrypted ?? ""), "client-secret-1");
    assert.equal(newOnly.decrypt(oauth?.oauthAccessTokenEncrypted ?? ""), "access-1");
    assert.equal(newOnly.decrypt(oauth?.oauthRefreshTokenEncrypted ?? ""), "refresh-1");
    assert.equal(newOnly.decrypt(flow?.codeVerifierEncrypted ?? ""), "verifier-1");

    const second = runRotate([newKey, oldKey]);
    assert.deepEqual(second.total, { checked: 6, rotated: 0, current: 6, changed_meanwhile: 0, undecryptable: 0 });
    // After dropping the old key everything still decrypts.
    const third = runRotate([newKey]);
    assert.deepEqual(third.total, { checked: 6, rotated: 0, current: 6, changed_meanwhile: 0, undecryptable: 0 });
  });

  it("reports a token no configured key opens instead of failing or touching it", async () => {
    const stray = createSecretBox([generateFernetKey()]).encrypt("pw-lost");
    const [a] = tenantIds as [string];
    await saveMailbox({ tenantId: a, purpose: "stopsale", fields: { passwordEncrypted: stray } });
    const report = runRotate([newKey, oldKey]);
    assert.equal(report.total.undecryptable, 1);
    assert.equal((await getMailbox({ tenantId: a, purpose: "stopsale" }))?.passwordEncrypted, stray);
  });
});
