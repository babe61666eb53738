/**
 * Issue 15 webhooks through the built app (a `next start` of the build, with private hosts refused
 * as in production): the settings page, the endpoint routes (admin only, the secret only in the
 * create/rotate answers, a private-host URL refused), replay of a finished delivery (202) and of an
 * unfinished one (409), one tenant never reaching another's rows, and the signed raw link.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { createLoggedInAdmin, createLoggedInUser, type AppClient } from "@/tests/harness/app-client";
import { startTestWebApp, type TestWebApp } from "@/tests/harness/oauth-app";

const { getDb, closeDb } = await import("@/lib/db/client");
const { sql } = await import("drizzle-orm");
const { getEnv } = await import("@/lib/env");
const { rawSourceUrl } = await import("@/lib/webhooks/deliver");

type Endpoint = { id: string; url: string };
type ApiError = { error: { code: string; details?: { fields?: Record<string, string> } } };

let app: TestWebApp;
let admin: AppClient;
let viewer: AppClient;
let other: AppClient;

before(async () => {
  app = await startTestWebApp({ DATABASE_URL: process.env.DATABASE_URL!, MAIL_ALLOW_PRIVATE_HOSTS: "false" });
  process.env.TEST_APP_URL = app.url; // the harness logs in against this app
  admin = await createLoggedInAdmin();
  viewer = await createLoggedInUser({ tenantId: admin.tenantId, role: "viewer" });
  other = await createLoggedInAdmin();
});

after(async () => {
  await app?.stop();
  await closeDb();
});

async function insertDelivery(tenantId: string, endpointId: string, status: "pending" | "succeeded" | "failed"): Promise<string> {
  const eventId = `evt_${randomUUID()}`;
  await getDb().execute(sql`INSERT INTO webhook_events (id, tenant_id, type, data) VALUES (${eventId}, ${tenantId}, 'message.received', '{}'::jsonb)`);
  const r = await getDb().execute<{ id: string }>(sql`
    INSERT INTO webhook_deliveries (tenant_id, event_id, endpoint_id, status, attempts) VALUES (${tenantId}, ${eventId}, ${endpointId}, ${status}, 3) RETURNING id`);
  return r.rows[0]!.id;
}

describe("webhooks over HTTP", () => {
  it("serves the settings page to a session and sends everyone else to the login", async () => {
    const page = await admin.request("GET", "/settings/webhooks");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(await page.text(), /<html/i);
    const anonymous = await fetch(`${app.url}/settings/webhooks`, { redirect: "manual" });
    assert.ok([302, 303, 307, 308].includes(anonymous.status), `redirect, got ${anonymous.status}`);
    assert.equal(new URL(anonymous.headers.get("location") ?? "", app.url).pathname, "/login");
  });

  it("creates and rotates with the secret shown once; refuses private hosts, bad input, viewers and anonymous calls", async () => {
    assert.equal((await fetch(`${app.url}/api/tenant/webhooks`)).status, 401);
    assert.equal((await viewer.json("GET", "/api/tenant/webhooks")).status, 403);
    assert.equal((await viewer.json("POST", "/api/tenant/webhooks", { url: "https://8.8.8.8/hook" })).status, 403);
    for (const url of ["http://10.1.2.3/hook", "http://127.0.0.1:9/hook", "http://169.254.169.254/latest"]) {
      const refused = await admin.json<ApiError>("POST", "/api/tenant/webhooks", { url });
      assert.equal(refused.status, 400, url);
      assert.equal(refused.body.error.code, "webhook_url_not_allowed", url);
    }
    const bad = await admin.json<ApiError>("POST", "/api/tenant/webhooks", { url: "https://8.8.8.8/h", event_types: ["nope"] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "validation_failed");
    assert.deepEqual(Object.keys(bad.body.error.details?.fields ?? {}).map((k) => k.split(".")[0]), ["event_types"]);

    const created = await admin.request("POST", "/api/tenant/webhooks", { url: "https://8.8.8.8/hook" });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get("cache-control"), "no-store");
    const { endpoint, secret } = (await created.json()) as { endpoint: Endpoint; secret: string };
    assert.match(secret, /^whsec_/);
    const listed = await admin.request("GET", "/api/tenant/webhooks");
    const listedText = await listed.text();
    assert.equal(listed.status, 200);
    assert.deepEqual((JSON.parse(listedText) as { endpoints: Endpoint[] }).endpoints.map((e) => e.id), [endpoint.id]);
    assert.ok(!listedText.includes(secret.slice(6)) && !/secret_?encrypted/i.test(listedText), "the list never carries a secret");
    assert.deepEqual((await other.json<{ endpoints: Endpoint[] }>("GET", "/api/tenant/webhooks")).body.endpoints, [], "another tenant sees none");

    assert.equal((await other.json("POST", `/api/tenant/webhooks/${endpoint.id}/rotate-secret`)).status, 404);
    assert.equal((await viewer.json("POST", `/api/tenant/webhooks/${endpoint.id}/rotate-secret`)).status, 403);
    const rotated = await admin.json<{ secret: string }>("POST", `/api/tenant/webhooks/${endpoint.id}/rotate-secret`);
    assert.equal(rotated.status, 200);
    assert.match(rotated.body.secret, /^whsec_/);
    assert.notEqual(rotated.body.secret, secret);
    const again = await (await admin.request("GET", "/api/tenant/webhooks")).text();
    assert.ok(!again.includes(rotated.body.secret.slice(6)), "nor the rotated one");

    assert.equal((await admin.json<ApiError>("PATCH", `/api/tenant/webhooks/${endpoint.id}`, { url: "http://10.0.0.1/x" })).status, 400);
    assert.equal((await other.json("DELETE", `/api/tenant/webhooks/${endpoint.id}`)).status, 404);
  });

  it("replays a finished delivery (202) but not an unfinished or foreign one (409)", async () => {
    const created = await admin.json<{ endpoint: Endpoint }>("POST", "/api/tenant/webhooks", { url: "https://8.8.4.4/replay" });
    const endpointId = created.body.endpoint.id;
    const failed = await insertDelivery(admin.tenantId, endpointId, "failed");
    const pending = await insertDelivery(admin.tenantId, endpointId, "pending");
    assert.equal((await viewer.json("POST", `/api/tenant/webhooks/deliveries/${failed}/replay`)).status, 403);
    assert.equal((await other.json<ApiError>("POST", `/api/tenant/webhooks/deliveries/${failed}/replay`)).status, 409, "another tenant's delivery");
    const replayed = await admin.json<{ status: string }>("POST", `/api/tenant/webhooks/deliveries/${failed}/replay`);
    assert.deepEqual(replayed, { status: 202, body: { status: "pending" } });
    const row = await getDb().execute<{ status: string }>(sql`SELECT status FROM webhook_deliveries WHERE id = ${failed}`);
    assert.equal(row.rows[0]?.status, "pending");
    const busy = await admin.json<ApiError>("POST", `/api/tenant/webhooks/deliveries/${pending}/replay`);
    assert.equal(busy.status, 409);
    assert.equal(busy.body.error.code, "delivery_not_replayable");
    assert.equal((await admin.json("POST", "/api/tenant/webhooks/deliveries/not-a-uuid/replay")).status, 404);
    const list = await admin.json<{ deliveries: { id: string }[] }>("GET", "/api/tenant/webhooks/deliveries");
    assert.deepEqual(list.body.deliveries.map((d) => d.id).sort(), [failed, pending].sort());
    assert.deepEqual((await other.json<{ deliveries: unknown[] }>("GET", "/api/tenant/webhooks/deliveries")).body.deliveries, []);
  });

  it("serves the raw source behind the signed link only", async () => {
    const source = Buffer.from("Subject: raw over http\r\n\r\nhello\r\n");
    const m = await getDb().execute<{ id: string }>(sql`
      INSERT INTO ingested_messages (tenant_id, purpose, provider_message_id, raw, size, status)
      VALUES (${admin.tenantId}, 'booking', ${`raw-${randomUUID()}`}, ${source}, ${source.length}, 'processed') RETURNING id`);
    const id = m.rows[0]!.id;
    const signed = new URL(rawSourceUrl(getEnv(), id));
    const link = `${app.url}${signed.pathname}${signed.search}`;
    const ok = await fetch(link);
    assert.equal(ok.status, 200);
    assert.equal(Buffer.from(await ok.arrayBuffer()).toString(), source.toString());
    const forged = new URL(link);
    forged.searchParams.set("token", "A".repeat(43));
    assert.equal((await fetch(forged)).status, 404);
    assert.equal((await fetch(`${app.url}${signed.pathname}`)).status, 404, "no token");
  });
});
