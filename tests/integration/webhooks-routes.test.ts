/**
 * The /api/tenant/webhooks route handlers called in-process with a real session (no Next server):
 * admin only, zod input, the host check on save, the secret only in the create/rotate answers, and
 * the signed raw link (valid token, forged token, pruned source).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { sql } from "drizzle-orm";
import { useFreshDatabase } from "@/tests/harness/database";

process.env.MAIL_ALLOW_PRIVATE_HOSTS = "false";
const database = await useFreshDatabase();
const { getDb, closeDb } = await import("@/lib/db/client");
const { createTenantWithAdmin } = await import("@/lib/db/queries/tenants");
const { createUserSession, SESSION_COOKIE } = await import("@/lib/auth/session");
const { getEnv } = await import("@/lib/env");
const { rawSourceUrl } = await import("@/lib/webhooks/deliver");
const webhooks = await import("@/app/api/tenant/webhooks/route");
const rotate = await import("@/app/api/tenant/webhooks/[id]/rotate-secret/route");
const raw = await import("@/app/api/tenant/webhooks/raw/[id]/route");

after(async () => {
  await closeDb();
  await database.drop();
});

const env = getEnv();
const { tenant, user } = await createTenantWithAdmin({ name: "Routes hotel", email: "admin@routes.test", passwordHash: "x" });
const { token } = await createUserSession({ userId: user.id });
const request = (path: string, init: { method?: string; body?: unknown; cookie?: boolean } = {}): Request =>
  new Request(`${env.APP_URL}${path}`, {
    method: init.method ?? "GET",
    headers: {
      ...(init.cookie === false ? {} : { cookie: `${SESSION_COOKIE}=${token}` }),
      origin: env.APP_URL,
      "content-type": "application/json",
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
const noParams = { params: Promise.resolve({}) as Promise<Record<string, never>> };

describe("webhook routes", () => {
  it("creates an endpoint once, shows the secret only then, refuses private hosts and bad input", async () => {
    assert.equal((await webhooks.GET(request("/api/tenant/webhooks", { cookie: false }), noParams)).status, 401);
    const privateHost = await webhooks.POST(request("/api/tenant/webhooks", { method: "POST", body: { url: "http://10.1.2.3/hook" } }), noParams);
    assert.equal(privateHost.status, 400);
    assert.equal(((await privateHost.json()) as { error: { code: string } }).error.code, "webhook_url_not_allowed");
    const badInput = await webhooks.POST(request("/api/tenant/webhooks", { method: "POST", body: { url: "https://8.8.8.8/h", event_types: ["nope"] } }), noParams);
    assert.equal(badInput.status, 400);

    const created = await webhooks.POST(request("/api/tenant/webhooks", { method: "POST", body: { url: "https://8.8.8.8/hook" } }), noParams);
    assert.equal(created.status, 201);
    const body = (await created.json()) as { endpoint: { id: string; url: string }; secret: string };
    assert.match(body.secret, /^whsec_/);
    const listed = await (await webhooks.GET(request("/api/tenant/webhooks"), noParams)).text();
    assert.ok(listed.includes(body.endpoint.id));
    assert.ok(!listed.includes(body.secret.slice(6)) && !listed.includes("secretEncrypted"), "the list never carries a secret");
    const stored = await getDb().execute<{ secret_encrypted: string }>(sql`SELECT secret_encrypted FROM webhook_endpoints`);
    assert.ok(!stored.rows[0]!.secret_encrypted.includes(body.secret.slice(6)), "stored encrypted");

    const rotated = await rotate.POST(request(`/api/tenant/webhooks/${body.endpoint.id}/rotate-secret`, { method: "POST" }), {
      params: Promise.resolve({ id: body.endpoint.id }),
    });
    const { secret } = (await rotated.json()) as { secret: string };
    assert.match(secret, /^whsec_/);
    assert.notEqual(secret, body.secret);
  });

  it("serves the raw source behind a valid signed link only, and 410 once pruned", async () => {
    const source = Buffer.from("Subject: raw link\r\n\r\nhello\r\n");
    const m = await getDb().execute<{ id: string }>(sql`
      INSERT INTO ingested_messages (tenant_id, purpose, provider_message_id, raw, size, status)
      VALUES (${tenant.id}, 'booking', 'raw-1', ${source}, ${source.length}, 'processed') RETURNING id`);
    const id = m.rows[0]!.id;
    const link = new URL(rawSourceUrl(env, id));
    const get = (url: URL): Promise<Response> => raw.GET(new Request(url), { params: Promise.resolve({ id }) });
    const ok = await get(link);
    assert.equal(ok.status, 200);
    assert.equal(Buffer.from(await ok.arrayBuffer()).toString(), source.toString());
    const forged = new URL(link);
    forged.searchParams.set("token", "A".repeat(43));
    assert.equal((await get(forged)).status, 404);
    await getDb().execute(sql`UPDATE ingested_messages SET raw = ''::bytea WHERE id = ${id}`);
    assert.equal((await get(link)).status, 410);
  });
});
