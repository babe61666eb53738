import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { findConnectedEmail } from "./identity";

let dataDir: string;
before(() => {
  // getEnv() (read for the HTTP timeout) generates development secrets into DATA_DIR.
  dataDir = mkdtempSync(path.join(tmpdir(), "identity-test-"));
  process.env.DATA_DIR = dataDir;
});
after(() => rmSync(dataDir, { recursive: true, force: true }));

/** An unsigned JWT: the id_token's signature is not checked (it came from the token endpoint over TLS). */
function idToken(claims: Record<string, unknown>): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part(claims)}.`;
}

const endpoints = { authorization: "http://x/a", token: "http://x/t", revocation: null, userinfo: null };
const connected = (provider: "google" | "microsoft", claims: Record<string, unknown>): Promise<string | null> =>
  findConnectedEmail({
    provider,
    tokens: { accessToken: "a", refreshToken: null, expiresAt: null, scopes: null, idToken: idToken({ aud: "client-1", ...claims }) },
    clientId: "client-1",
    endpoints,
    access: "imap",
  });

test("Microsoft: the sign-in name (preferred_username, then upn) wins over the optional email claim", async () => {
  assert.equal(await connected("microsoft", { email: "typed@elsewhere.test", preferred_username: "Bob@Contoso.test" }), "bob@contoso.test");
  assert.equal(await connected("microsoft", { email: "typed@elsewhere.test", upn: "carol@contoso.test" }), "carol@contoso.test");
  // A preferred_username that is no address (a phone number sign-in) falls through to the next.
  assert.equal(await connected("microsoft", { email: "dave@contoso.test", preferred_username: "+15550100" }), "dave@contoso.test");
});

test("Google: the verified email; an id_token for another client counts for nothing", async () => {
  assert.equal(await connected("google", { email: "ann@gmail.test", email_verified: true }), "ann@gmail.test");
  assert.equal(
    await findConnectedEmail({
      provider: "microsoft",
      tokens: { accessToken: "a", refreshToken: null, expiresAt: null, scopes: null, idToken: idToken({ aud: "other", preferred_username: "x@y.test" }) },
      clientId: "client-1",
      endpoints,
      access: "imap",
    }),
    null,
  );
});
