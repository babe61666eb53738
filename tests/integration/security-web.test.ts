/**
 * Issue 14, the web process: each attack of the security review, replayed against the built app's
 * production server (scripts/web-server.ts) and now answered safely. Two servers on one fresh
 * database: `direct` trusts no proxy (TRUSTED_PROXY_HOPS=0, the default; APP_URL https for HSTS)
 * and `proxied` trusts one hop (X-Forwarded-For's last entry is the client, as behind an ingress).
 * docs/security.md lists what each test shows.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { useFreshDatabase } from "@/tests/harness/database";
import { startTestWebApp, type TestWebApp } from "@/tests/harness/oauth-app";

const database = await useFreshDatabase();
const { hashPassword } = await import("@/lib/auth/password");
const { createTenantWithAdmin } = await import("@/lib/db/queries/tenants");
const { createApiMailbox } = await import("@/tests/harness/api-mailbox");
const { updateSyncState } = await import("@/lib/db/queries/mailboxes");
const { deriveGraphClientState } = await import("@/lib/email/graph/graph-notifications");
const { closeDb } = await import("@/lib/db/client");

const TOKEN = process.env.INTERNAL_API_TOKEN ?? "test-internal-token";
const SESSION_SECRET = "security-web-session-secret";
const PASSWORD = "the-right-password";
const MIB = 1024 * 1024;

let direct: TestWebApp;
let proxied: TestWebApp;
let passwordHash: string;

before(async () => {
  passwordHash = await hashPassword(PASSWORD);
  const common = { DATABASE_URL: database.url, SESSION_SECRET, INTERNAL_API_TOKEN: TOKEN, DATABASE_STATEMENT_TIMEOUT_SECONDS: "2" };
  [direct, proxied] = await Promise.all([
    startTestWebApp({ ...common, TRUSTED_PROXY_HOPS: "0", APP_URL: "https://mailbox.example.test" }),
    startTestWebApp({ ...common, TRUSTED_PROXY_HOPS: "1" }),
  ]);
});

after(async () => {
  await Promise.all([direct?.stop(), proxied?.stop()]);
  await closeDb();
  await database.drop();
});

async function makeAdmin(): Promise<string> {
  const email = `admin-${randomUUID().slice(0, 8)}@hotel.test`;
  await createTenantWithAdmin({ name: "Security Hotel", email, passwordHash });
  return email;
}

async function login(app: TestWebApp, email: string, password: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${app.url}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: app.url, ...headers },
    body: JSON.stringify({ email, password }),
  });
  await res.body?.cancel();
  return res.status;
}

/** process_resident_memory_bytes of the server, from its /metrics (internal token). */
async function residentBytes(app: TestWebApp): Promise<number> {
  const text = await (await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  const line = text.split("\n").find((l) => l.startsWith("process_resident_memory_bytes "));
  assert.ok(line, "process_resident_memory_bytes in /metrics");
  return Number(line.split(" ")[1]);
}

/**
 * A chunked POST (no Content-Length) of `totalBytes` over a raw socket, one 64 KiB chunk at a time,
 * until the server answers. Each write waits for the loop to read first: the server closes the
 * connection after a 413, and a write into it would otherwise reset the socket before the answer
 * is read (which is the client's race, not the server's answer).
 */
function chunkedUpload(app: TestWebApp, path: string, totalBytes: number): Promise<{ status: number | null; sentBytes: number; error?: string }> {
  const { port, host } = new URL(app.url);
  const data = Buffer.alloc(64 * 1024, 0x20);
  const chunk = Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from("\r\n")]);
  return new Promise((resolve) => {
    let sent = 0;
    let received = "";
    let status: number | null = null;
    const socket = net.connect(Number(port), "127.0.0.1");
    const finish = (error?: string): void => {
      socket.destroy();
      resolve({ status, sentBytes: sent, ...(error && status === null ? { error } : {}) });
    };
    socket.on("data", (d: Buffer) => {
      received += d.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(received);
      if (m && status === null) {
        status = Number(m[1]);
        finish();
      }
    });
    socket.on("error", (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
    socket.on("close", () => finish("closed"));
    socket.on("connect", () => {
      void (async () => {
        const head = `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nOrigin: ${app.url}\r\nTransfer-Encoding: chunked\r\n\r\n`;
        const write = (buf: Buffer | string): Promise<void> => new Promise((r) => socket.write(buf, () => r()));
        await write(head);
        while (status === null && !socket.destroyed && sent < totalBytes) {
          await write(chunk);
          sent += data.length;
          await new Promise((r) => setImmediate(r));
        }
        if (status === null && !socket.destroyed) await write("0\r\n\r\n");
      })();
    });
  });
}

describe("security: the web process (issue 14)", () => {
  it("1. chunked 300 MiB bodies are cut off at 1 MiB with 413, and the process does not grow", async () => {
    const rssBefore = await residentBytes(direct);
    // Three at once, as in the review (138 -> 2,203 MB before).
    const results = await Promise.all([0, 1, 2].map(() => chunkedUpload(direct, "/api/auth/login", 300 * MIB)));
    const rssAfter = await residentBytes(direct);
    console.log(
      `3 x 300 MiB chunked: statuses ${results.map((r) => r.status).join(",")}, written before the answer ` +
        `${results.map((r) => (r.sentBytes / MIB).toFixed(1)).join("/")} MiB, RSS ${(rssBefore / MIB).toFixed(0)} -> ${(rssAfter / MIB).toFixed(0)} MiB`,
    );
    for (const r of results) {
      assert.equal(r.status, 413, JSON.stringify(r));
      assert.ok(r.sentBytes < 64 * MIB, `the server answered after ${r.sentBytes} bytes`);
    }
    assert.ok(rssAfter - rssBefore < 64 * MIB, `RSS grew by ${((rssAfter - rssBefore) / MIB).toFixed(1)} MiB`);
    // A declared oversize body is refused too, and the server still works.
    const declared = await fetch(`${direct.url}/api/webhooks/graph`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": String(2 * MIB) },
      body: Buffer.alloc(2 * MIB, 0x20),
    });
    assert.equal(declared.status, 413);
    assert.equal((await fetch(`${direct.url}/health`)).status, 200);
  });

  it("2a. 150 parallel wrong guesses and the right one check at most 5 passwords for one client", async () => {
    const email = await makeAdmin();
    const client = { "x-forwarded-for": "203.0.113.10" };
    const statuses = await Promise.all([
      ...Array.from({ length: 150 }, (_, i) => login(proxied, email, `wrong-${i}`, client)),
      login(proxied, email, PASSWORD, client),
    ]);
    const checked = statuses.filter((s) => s === 401 || s === 200).length;
    const limited = statuses.filter((s) => s === 429).length;
    console.log(`151 parallel logins: ${checked} passwords checked, ${limited} refused with 429`);
    assert.ok(checked <= 5, `${checked} passwords were checked`);
    assert.equal(checked + limited, 151, statuses.filter((s) => s !== 429).join(","));
  });

  it("2b. a rotating X-Forwarded-For is not a new client: ignored without proxies, only the trusted hop counts with one", async () => {
    const email = await makeAdmin();
    const directStatuses: number[] = [];
    for (let i = 0; i < 8; i++) directStatuses.push(await login(direct, email, `wrong-${i}`, { "x-forwarded-for": `10.1.${i}.${i}` }));
    assert.deepEqual(directStatuses, [401, 401, 401, 401, 401, 429, 429, 429]);

    const email2 = await makeAdmin();
    const proxiedStatuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      // What the client wrote, then what our (one trusted) proxy appended: the client's address.
      proxiedStatuses.push(await login(proxied, email2, `wrong-${i}`, { "x-forwarded-for": `10.2.${i}.${i}, 203.0.113.20` }));
    }
    assert.deepEqual(proxiedStatuses, [401, 401, 401, 401, 401, 429, 429, 429]);
  });

  it("2c. a stranger's wrong passwords do not lock the admin out from another client", async () => {
    const email = await makeAdmin();
    const stranger = { "x-forwarded-for": "203.0.113.30" };
    for (let i = 0; i < 5; i++) assert.equal(await login(proxied, email, `wrong-${i}`, stranger), 401);
    assert.equal(await login(proxied, email, PASSWORD, stranger), 429, "the stranger's client is refused, even with the right password");
    assert.equal(await login(proxied, email, PASSWORD, { "x-forwarded-for": "198.51.100.31" }), 200, "the admin gets in");
  });

  it("2d. one client's password checks are bounded across accounts (20 per window)", async () => {
    const client = { "x-forwarded-for": "203.0.113.40" };
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) statuses.push(await login(proxied, `nobody-${i}-${randomUUID()}@hotel.test`, "guess", client));
    assert.deepEqual(statuses, [...Array<number>(20).fill(401), 429, 429]);
  });

  it("3. a forced database error with mail data in its parameters reaches no log line", async () => {
    const marker = `BODY-MARKER-${randomUUID()}`;
    // PostgreSQL refuses NUL in text: the lookup of this subscription id fails inside the query.
    const res = await fetch(`${direct.url}/api/webhooks/graph`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ value: [{ subscriptionId: `${marker}\u0000`, clientState: marker, changeType: "created", resource: marker }] }),
    });
    assert.equal(res.status, 500);
    const email = await makeAdmin();
    assert.equal(await login(direct, email, "wrong"), 401);
    await new Promise((r) => setTimeout(r, 300));
    const failure = direct.logs.find((l) => l.includes("unhandled error in route handler") && l.includes("Failed query"));
    assert.ok(failure, "the failure was logged (with its SQL)");
    assert.match(failure, /params: \[redacted\]/);
    const leaks = [...direct.logs, ...proxied.logs].filter((l) => l.includes(marker) || l.includes(email));
    assert.deepEqual(leaks, []);
  });

  it("4a. metric labels are route templates: 300 random ids add no series", async () => {
    for (let i = 0; i < 300; i++) {
      const res = await fetch(`${direct.url}/api/tenant/email/messages/${randomUUID()}-${i}/raw`);
      assert.equal(res.status, 401);
      await res.body?.cancel();
    }
    const text = await (await fetch(`${direct.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const series = text.split("\n").filter((l) => l.startsWith("http_requests_total{") && l.includes("/messages/"));
    assert.deepEqual(series, ['http_requests_total{method="GET",route="/api/tenant/email/messages/[id]/raw",status="401"} 300']);
  });

  it("4b. a Graph notification batch is capped, and its subscriptions are looked up together", async () => {
    const forged = (n: number): unknown[] =>
      Array.from({ length: n }, (_, i) => ({ subscriptionId: `forged-${i}`, clientState: "x", changeType: "created", resource: "r" }));
    const over = await fetch(`${direct.url}/api/webhooks/graph`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ value: forged(1001) }),
    });
    assert.equal(over.status, 413);
    assert.equal(((await over.json()) as { error: { code: string } }).error.code, "too_many_notifications");

    const { mailboxId } = await createApiMailbox({ provider: "microsoft", email: `graph-${randomUUID()}@outlook.test`, token: "t" });
    await updateSyncState({ mailboxId, patch: { graphSubscriptionId: "sub-real" } });
    const listener = new pg.Client({ connectionString: database.url });
    await listener.connect();
    const woken: string[] = [];
    listener.on("notification", (m) => woken.push(m.payload ?? ""));
    await listener.query("LISTEN mailbox_changed");
    try {
      const batch = [
        ...forged(999),
        { subscriptionId: "sub-real", clientState: deriveGraphClientState({ mailboxId, secret: SESSION_SECRET }), changeType: "created", resource: "r" },
      ];
      const res = await fetch(`${direct.url}/api/webhooks/graph`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ value: batch }) });
      assert.equal(res.status, 202);
      const deadline = Date.now() + 10_000;
      while (!woken.some((p) => p.includes(mailboxId)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.ok(woken.some((p) => p.includes(mailboxId) && p.includes('"push"')), woken.join("\n"));
    } finally {
      await listener.end();
    }
  });

  it("5. pages carry a nonce CSP that every script follows, HSTS when APP_URL is https; API answers a default-src 'none' policy", async () => {
    const page = await fetch(`${direct.url}/login`);
    assert.equal(page.status, 200);
    const csp = page.headers.get("content-security-policy") ?? "";
    const nonce = /script-src 'self' 'nonce-([A-Za-z0-9+/=]+)' 'strict-dynamic'/.exec(csp)?.[1];
    assert.ok(nonce, csp);
    for (const directive of ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]) assert.ok(csp.includes(directive), directive);
    const html = await page.text();
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    assert.ok(scripts.length > 0);
    for (const tag of scripts) assert.ok(tag.includes(`nonce="${nonce}"`), tag);
    assert.equal(page.headers.get("strict-transport-security"), "max-age=31536000; includeSubDomains");
    // A second response gets another nonce.
    const again = (await fetch(`${direct.url}/login`)).headers.get("content-security-policy");
    assert.notEqual(again, csp);

    const api = await fetch(`${direct.url}/api/auth/me`);
    assert.equal(api.status, 401);
    assert.equal(api.headers.get("content-security-policy"), "default-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
    assert.equal(api.headers.get("strict-transport-security"), "max-age=31536000; includeSubDomains");
    // http APP_URL: no HSTS.
    assert.equal((await fetch(`${proxied.url}/login`)).headers.get("strict-transport-security"), null);
  });

  it("6. a statement stuck behind a lock is cancelled by the statement timeout instead of hanging the request", async () => {
    const email = await makeAdmin();
    const locker = new pg.Client({ connectionString: database.url });
    await locker.connect();
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE login_attempts IN ACCESS EXCLUSIVE MODE");
      const started = performance.now();
      const status = await login(direct, email, PASSWORD, {});
      const ms = performance.now() - started;
      console.log(`login behind a held table lock answered ${status} after ${Math.round(ms)} ms (statement timeout 2 s)`);
      assert.equal(status, 500);
      assert.ok(ms < 30_000, `${ms} ms`);
    } finally {
      await locker.query("ROLLBACK").catch(() => {});
      await locker.end();
    }
    assert.equal(await login(direct, email, PASSWORD, {}), 200, "works again once the lock is gone");
  });
});
