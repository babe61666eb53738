import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { MailError } from "@/lib/email/provider";
import { createOrgTokenSource, resetOrgTokenCache } from "./org-token-source";
import {
  buildClientCredentialsRequest,
  describeServiceAccountKey,
  parseServiceAccountKey,
  requestClientCredentialsToken,
  requestDelegatedGmailToken,
  type ServiceAccountKey,
} from "./org-tokens";

let dataDir: string;
before(() => {
  // getEnv() (read for the refresh skew) generates development secrets into DATA_DIR.
  dataDir = mkdtempSync(path.join(tmpdir(), "org-tokens-test-"));
  process.env.DATA_DIR = dataDir;
});
after(() => rmSync(dataDir, { recursive: true, force: true }));

type Captured = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string };

/** A token endpoint that records the raw request and answers with `reply`. */
async function tokenEndpoint(reply: { status: number; body: unknown }): Promise<{ url: string; requests: Captured[]; close: () => Promise<void> }> {
  const requests: Captured[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(reply.status, { "content-type": "application/json" });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe("client credentials (app-only Graph)", () => {
  test("the request is Entra's documented client_secret_post form, scope .default", () => {
    const req = buildClientCredentialsRequest({ tokenUrl: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", clientId: "11111111-2222-3333-4444-555555555555", clientSecret: "s3cr/t+=~" });
    assert.deepEqual(req, {
      url: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: "client_id=11111111-2222-3333-4444-555555555555&client_secret=s3cr%2Ft%2B%3D%7E&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&grant_type=client_credentials",
    });
  });

  test("sends exactly those bytes and reads the token and its lifetime", async () => {
    const ep = await tokenEndpoint({ status: 200, body: { token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599, access_token: "eyJ.app.token" } });
    try {
      const token = await requestClientCredentialsToken({ tokenUrl: `${ep.url}/tenant-1/oauth2/v2.0/token`, clientId: "app-1", clientSecret: "pw", timeoutMs: 5000, now: () => 1_000_000 });
      assert.deepEqual(token, { accessToken: "eyJ.app.token", expiresAt: new Date(1_000_000 + 3599_000) });
      assert.equal(ep.requests.length, 1);
      const [r] = ep.requests;
      assert.equal(r?.method, "POST");
      assert.equal(r?.url, "/tenant-1/oauth2/v2.0/token");
      assert.equal(r?.headers["content-type"], "application/x-www-form-urlencoded");
      assert.equal(r?.headers.authorization, undefined);
      assert.equal(r?.body, "client_id=app-1&client_secret=pw&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&grant_type=client_credentials");
    } finally {
      await ep.close();
    }
  });

  test("a wrong secret is needs_reauth with Entra's code and never the secret or description text", async () => {
    const ep = await tokenEndpoint({
      status: 401,
      body: { error: "invalid_client", error_description: "AADSTS7000215: Invalid client secret provided. Trace ID: abc secret=pw", error_codes: [7000215] },
    });
    try {
      await assert.rejects(requestClientCredentialsToken({ tokenUrl: `${ep.url}/t/oauth2/v2.0/token`, clientId: "app-1", clientSecret: "pw", timeoutMs: 5000 }), (err: unknown) => {
        assert.ok(err instanceof MailError);
        assert.equal(err.code, "needs_reauth");
        assert.equal(err.message, "Microsoft refused the app's client secret (invalid_client AADSTS7000215): it is wrong or has expired. Enter a new client secret.");
        return true;
      });
    } finally {
      await ep.close();
    }
  });

  test("an app unknown in the tenant and a server error are told apart", async () => {
    const unknown = await tokenEndpoint({ status: 400, body: { error: "unauthorized_client", error_description: "AADSTS700016: Application with identifier 'x' was not found in the directory 'y'." } });
    const down = await tokenEndpoint({ status: 503, body: { error: "temporarily_unavailable" } });
    try {
      await assert.rejects(requestClientCredentialsToken({ tokenUrl: `${unknown.url}/t/oauth2/v2.0/token`, clientId: "a", clientSecret: "b", timeoutMs: 5000 }), {
        code: "needs_reauth",
        message: "Microsoft does not know this application in the tenant (unauthorized_client AADSTS700016). Check the tenant and client id, and that the admin consented.",
      });
      await assert.rejects(requestClientCredentialsToken({ tokenUrl: `${down.url}/t/oauth2/v2.0/token`, clientId: "a", clientSecret: "b", timeoutMs: 5000 }), { code: "network" });
    } finally {
      await unknown.close();
      await down.close();
    }
  });
});

function serviceAccountKey(): { key: ServiceAccountKey; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const key = parseServiceAccountKey(
    JSON.stringify({
      type: "service_account",
      project_id: "p",
      private_key_id: "0123456789abcdef",
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      client_email: "reader@p.iam.gserviceaccount.com",
      client_id: "101234567890123456789",
    }),
  );
  return { key, publicPem: publicKey.export({ type: "spki", format: "pem" }).toString() };
}

describe("domain-wide delegation (Gmail)", () => {
  test("the JWT bearer request: grant type, RS256 assertion with iss, scope, aud, iat, exp = iat + 3600, sub = the mailbox", async () => {
    const { key, publicPem } = serviceAccountKey();
    const ep = await tokenEndpoint({ status: 200, body: { access_token: "ya29.delegated", expires_in: 3599, token_type: "Bearer" } });
    try {
      const before = Math.floor(Date.now() / 1000);
      const token = await requestDelegatedGmailToken({ key, subject: "reservations@hotel.example", tokenUrl: `${ep.url}/token`, timeoutMs: 5000 });
      assert.equal(token.accessToken, "ya29.delegated");
      assert.ok(token.expiresAt && token.expiresAt.getTime() > Date.now() + 3500_000);
      assert.equal(ep.requests.length, 1);
      const r = ep.requests[0]!;
      assert.equal(r.method, "POST");
      assert.equal(r.url, "/token");
      assert.match(String(r.headers["content-type"]), /^application\/x-www-form-urlencoded/);
      const form = new URLSearchParams(r.body);
      assert.deepEqual([...form.keys()], ["grant_type", "assertion"]);
      assert.ok(r.body.startsWith("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="));
      const [h, p, sig] = (form.get("assertion") ?? "").split(".");
      // gtoken sends only `alg` (Google's example also has typ "JWT", which RFC 7515 makes optional).
      assert.deepEqual(JSON.parse(Buffer.from(h!, "base64url").toString()), { alg: "RS256" });
      const claims = JSON.parse(Buffer.from(p!, "base64url").toString()) as Record<string, unknown>;
      const iat = claims.iat as number;
      assert.ok(iat >= before && iat <= before + 5);
      assert.deepEqual(claims, {
        iss: "reader@p.iam.gserviceaccount.com",
        scope: "https://www.googleapis.com/auth/gmail.modify",
        aud: "https://oauth2.googleapis.com/token",
        exp: iat + 3600,
        iat,
        sub: "reservations@hotel.example",
      });
      assert.ok(verify("RSA-SHA256", Buffer.from(`${h}.${p}`), createPublicKey(publicPem), Buffer.from(sig!, "base64url")), "signed with the key");
    } finally {
      await ep.close();
    }
  });

  test("Google's documented refusals become needs_reauth reasons", async () => {
    const { key } = serviceAccountKey();
    const cases = [
      {
        body: { error: "unauthorized_client", error_description: "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested." },
        status: 401,
        message:
          "Google refused domain-wide delegation (unauthorized_client): in the Admin console (Security > API controls > Domain-wide delegation) client id 101234567890123456789 must be allowed the scope https://www.googleapis.com/auth/gmail.modify.",
      },
      { body: { error: "invalid_grant", error_description: "Invalid email or User ID" }, status: 400, message: "Google does not know gone@hotel.example as a user of the Workspace domain (invalid_grant). Check the mailbox address." },
      {
        body: { error: "invalid_grant", error_description: "Invalid JWT Signature." },
        status: 400,
        message: "Google refused the service account key (invalid_grant: invalid JWT signature): the key was deleted or replaced. Upload a current key.",
      },
    ];
    for (const c of cases) {
      const ep = await tokenEndpoint({ status: c.status, body: c.body });
      try {
        await assert.rejects(requestDelegatedGmailToken({ key, subject: "gone@hotel.example", tokenUrl: `${ep.url}/token`, timeoutMs: 5000 }), (err: unknown) => {
          assert.ok(err instanceof MailError);
          assert.equal(err.code, "needs_reauth");
          assert.equal(err.message, c.message);
          return true;
        });
        assert.equal(ep.requests.length, 1, "no retries of a refusal");
      } finally {
        await ep.close();
      }
    }
  });

  test("a key file is checked without quoting it, and described without the private key", () => {
    assert.throws(() => parseServiceAccountKey("{not json"), { message: "The service account key is not valid JSON." });
    assert.throws(() => parseServiceAccountKey(JSON.stringify({ type: "authorized_user", client_email: "a@b.c", private_key: "x" })), {
      message: 'The key must be a service account key (type "service_account").',
    });
    const { key } = serviceAccountKey();
    assert.deepEqual(describeServiceAccountKey(key), { client_email: "reader@p.iam.gserviceaccount.com", client_id: "101234567890123456789", private_key_id: "0123456789abcdef" });
  });
});

describe("org token source", () => {
  const mailbox = {
    id: "mb-1",
    mailboxKind: "app_only" as const,
    address: "reservations@contoso.example",
    oauthClientId: "app",
    oauthClientSecretEncrypted: "enc",
    oauthTenantId: "contoso",
    serviceAccountKeyEncrypted: null,
  };

  test("caches until the refresh skew, refetches on forceRefresh and near expiry", async () => {
    resetOrgTokenCache();
    let now = 1_000_000_000;
    let n = 0;
    const source = createOrgTokenSource(mailbox, {
      now: () => now,
      request: async () => ({ accessToken: `t${++n}`, expiresAt: new Date(now + 3600_000) }),
    });
    assert.equal(await source(), "t1");
    assert.equal(await source(), "t1");
    assert.equal(await source({ forceRefresh: true }), "t2");
    now += 3600_000 - 299_000; // inside the default 300 s skew
    assert.equal(await source(), "t3");
    assert.equal(n, 3);
  });

  test("concurrent callers share one request; changed credentials do not reuse the token", async () => {
    resetOrgTokenCache();
    let n = 0;
    const request = async (): Promise<{ accessToken: string; expiresAt: Date }> => {
      await new Promise((r) => setTimeout(r, 20));
      return { accessToken: `t${++n}`, expiresAt: new Date(Date.now() + 3600_000) };
    };
    const source = createOrgTokenSource(mailbox, { request });
    assert.deepEqual(await Promise.all([source(), source(), source()]), ["t1", "t1", "t1"]);
    const changed = createOrgTokenSource({ ...mailbox, oauthClientSecretEncrypted: "enc2" }, { request });
    assert.equal(await changed(), "t2");
  });
});
