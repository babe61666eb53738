/**
 * Issue 14, the watcher process: its /health and /metrics listen on loopback unless told otherwise,
 * /metrics needs the internal token, and a database error while storing a message (forced with a
 * trigger, so the real INSERT with the real mail as parameters fails) logs no byte of that mail.
 * Real peers: a fresh PostgreSQL database, a private Dovecot, the watcher entrypoint.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { useFreshDatabase } from "@/tests/harness/database";
import { makeMessage, startDovecot, type DovecotInstance } from "@/tests/harness/dovecot";
import { waitFor } from "@/tests/harness/ports";
import { startWatcherProcess, type WatcherProcess } from "@/tests/harness/watcher-process";

const database = await useFreshDatabase();
const { getSecretBox } = await import("@/lib/crypto/secret-box");
const { createTenant } = await import("@/lib/db/queries/tenants");
const { saveMailbox } = await import("@/lib/db/queries/mailboxes");
const { closeDb } = await import("@/lib/db/client");

const TOKEN = "watcher-metrics-token";
const MARKER = `BODY-MARKER-${randomUUID()}`;

let dovecot: DovecotInstance;
let watcher: WatcherProcess;
let admin: pg.Client;

before(async () => {
  dovecot = await startDovecot({ users: [{ name: "guest", password: "guest-secret" }] });
  admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  // Every insert of a message fails inside PostgreSQL, after the values were bound.
  await admin.query(`
    CREATE FUNCTION refuse_ingest() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'forced failure for the log test'; END $$;
    CREATE TRIGGER refuse_ingest BEFORE INSERT ON ingested_messages FOR EACH ROW EXECUTE FUNCTION refuse_ingest();
  `);
  watcher = await startWatcherProcess({
    DATABASE_URL: database.url,
    INTERNAL_API_TOKEN: TOKEN,
    WATCHER_BIND_ADDRESS: undefined,
    EMAIL_BACKOFF_MIN_SECONDS: "1",
    EMAIL_BACKOFF_MAX_SECONDS: "2",
    LOG_LEVEL: "debug",
  });
});

after(async () => {
  await watcher?.stop();
  await dovecot?.stop();
  await admin?.end();
  await closeDb();
  await database.drop();
});

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 3000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

describe("security: the watcher process (issue 14)", () => {
  it("/health is open, /metrics needs the internal token", async () => {
    const base = `http://127.0.0.1:${watcher.port}`;
    assert.equal((await fetch(`${base}/health`)).status, 200);
    const anonymous = await fetch(`${base}/metrics`);
    assert.equal(anonymous.status, 401);
    assert.ok(!(await anonymous.text()).includes("watched_mailboxes"));
    assert.equal((await fetch(`${base}/metrics`, { headers: { authorization: "Bearer wrong" } })).status, 401);
    const text = await watcher.metrics();
    assert.match(text, /watched_mailboxes/);
  });

  it("listens on loopback only by default (WATCHER_BIND_ADDRESS)", async () => {
    // 127.0.0.2 reaches this host through lo as well: a server on every interface accepts it, one
    // bound to 127.0.0.1 does not. Unlike an external interface, every Linux machine has it.
    assert.equal(await accepts("127.0.0.1", watcher.port), true);
    assert.equal(await accepts("127.0.0.2", watcher.port), false, "reachable on 127.0.0.2");
  });

  it("a failed insert of a message logs the failure without any of the message", async () => {
    const tenant = await createTenant({ name: "Log Test Hotel" });
    await saveMailbox({
      tenantId: tenant.id,
      purpose: "booking",
      fields: {
        provider: "imap",
        access: "imap",
        host: dovecot.host,
        port: dovecot.imapPort,
        address: "guest@hotel.test",
        username: "guest",
        useSsl: false,
        tlsMode: "none",
        authMethod: "password",
        passwordEncrypted: getSecretBox().encrypt("guest-secret"),
        useIdle: true,
        folder: "INBOX",
        enabled: true,
      },
    });
    await dovecot.append(
      "guest",
      makeMessage({ subject: `Booking ${MARKER}`, from: `Guest <${MARKER.toLowerCase()}@guest.test>`, body: `Dear hotel, ${MARKER}, 2 adults.` }),
    );
    // The watcher tries (and retries) the insert and logs each failure.
    const failures = await waitFor(
      () => {
        const lines = watcher.logs.filter((l) => l.includes("forced failure for the log test"));
        return lines.length > 0 ? lines : null;
      },
      { timeoutMs: 60_000, what: "the watcher to log the forced insert failure" },
    );
    await new Promise((r) => setTimeout(r, 1000));
    console.log(`forced insert failures logged: ${failures.length}; first: ${failures[0]?.slice(0, 300)}`);
    const leaks = watcher.logs.filter((l) => l.includes(MARKER) || l.toLowerCase().includes(MARKER.toLowerCase()));
    assert.deepEqual(leaks, []);
  });
});
