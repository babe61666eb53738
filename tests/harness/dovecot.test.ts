/**
 * Proves the private-Dovecot harness (tests/harness/dovecot.ts) against the real server.
 * Run: node --import tsx --test tests/harness/dovecot.test.ts   (as root, Dovecot installed)
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { ImapFlow, type ImapFlowOptions } from "imapflow";
import { makeMessage, startDovecot, type DovecotInstance } from "./dovecot";

const execFileAsync = promisify(execFile);

/** Connects and logs in with ImapFlow, then always logs out; returns what `fn` returns. */
async function withImap<T>(options: ImapFlowOptions, fn?: (client: ImapFlow) => Promise<T>): Promise<T | undefined> {
  const client = new ImapFlow({ logger: false, disableAutoIdle: true, connectionTimeout: 5000, ...options });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return fn ? await fn(client) : undefined;
  } finally {
    if (client.usable) await client.logout().catch(() => client.close());
    else client.close();
  }
}

/** Minimal line-based POP3/IMAP conversation over an existing socket. */
function lineReader(socket: net.Socket): () => Promise<string> {
  let buffer = "";
  const waiters: ((line: string) => void)[] = [];
  const lines: string[] = [];
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    let eol: number;
    while ((eol = buffer.indexOf("\r\n")) !== -1) {
      const line = buffer.slice(0, eol);
      buffer = buffer.slice(eol + 2);
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  return () => {
    const ready = lines.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for a line")), 5000);
      waiters.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
  };
}

function connectPlain(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => resolve(socket));
    socket.once("error", reject);
  });
}

function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

describe("startDovecot: plaintext instance", () => {
  let dovecot: DovecotInstance;
  const users = [
    { name: "alice", password: "alice-secret" },
    { name: "bob", password: "bob-secret" },
  ];

  before(async () => {
    const t0 = performance.now();
    dovecot = await startDovecot({ users });
    console.log(`# plaintext instance started in ${(performance.now() - t0).toFixed(0)} ms`);
  });

  after(async () => {
    await dovecot?.stop();
  });

  it("exposes ports and a world-traversable instance dir", () => {
    assert.equal(dovecot.host, "127.0.0.1");
    assert.ok(dovecot.imapPort > 0 && dovecot.pop3Port > 0);
    assert.notEqual(dovecot.imapPort, dovecot.pop3Port);
    assert.equal(dovecot.imapsPort, undefined);
    assert.equal(dovecot.caCertPem, undefined);
    assert.ok(existsSync(path.join(dovecot.dir, "dovecot.conf")));
  });

  it("appends 3 messages that messages() lists as unseen", async () => {
    for (let i = 1; i <= 3; i++) {
      await dovecot.append("alice", makeMessage({ subject: `Message ${i}`, to: "alice@example.test" }));
    }
    const list = await dovecot.messages("alice");
    assert.equal(list.length, 3);
    assert.deepEqual(
      list.map((m) => m.seen),
      [false, false, false],
    );
    assert.ok(list.every((m) => m.size > 0));
    assert.ok(list[0]!.uid < list[1]!.uid && list[1]!.uid < list[2]!.uid);
    // The other user's mailbox is separate.
    assert.deepEqual(await dovecot.messages("bob"), []);
  });

  it("appends to a folder with flags, creating the folder", async () => {
    await dovecot.append("bob", Buffer.from(makeMessage({ subject: "Archived" })), {
      folder: "Archive",
      flags: ["\\Seen"],
    });
    await dovecot.createFolder("bob", "Archive"); // already exists: no error
    await dovecot.createFolder("bob", "Empty");
    const archived = await dovecot.messages("bob", "Archive");
    assert.equal(archived.length, 1);
    assert.equal(archived[0]!.seen, true);
    assert.deepEqual(await dovecot.messages("bob", "Empty"), []);
  });

  it("refuses a wrong password", async () => {
    await assert.rejects(
      withImap({ host: dovecot.host, port: dovecot.imapPort, auth: { user: "alice", pass: "wrong" } }),
      (err: Error & { authenticationFailed?: boolean }) => err.authenticationFailed === true,
    );
    // ...and accepts the right one.
    await withImap({ host: dovecot.host, port: dovecot.imapPort, auth: { user: "alice", pass: "alice-secret" } });
  });

  it("adds users at runtime", async () => {
    await dovecot.addUser("carol", "carol-secret");
    await dovecot.append("carol", makeMessage({ subject: "Hi Carol" }));
    assert.equal((await dovecot.messages("carol")).length, 1);
  });

  it("serves POP3 on pop3Port", async () => {
    const socket = await connectPlain(dovecot.pop3Port);
    try {
      const next = lineReader(socket);
      const greeting = await next();
      assert.ok(greeting.startsWith("+OK"), greeting);
      socket.write("USER alice\r\n");
      assert.ok((await next()).startsWith("+OK"));
      socket.write("PASS alice-secret\r\n");
      assert.ok((await next()).startsWith("+OK"));
      socket.write("STAT\r\n");
      assert.match(await next(), /^\+OK 3 \d+/);
      socket.write("QUIT\r\n");
      assert.ok((await next()).startsWith("+OK"));
    } finally {
      socket.destroy();
    }
  });

  it("restart() keeps ports, users and mail", async () => {
    const { imapPort } = dovecot;
    const t0 = performance.now();
    await dovecot.restart();
    console.log(`# restart took ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(dovecot.imapPort, imapPort);
    assert.equal((await dovecot.messages("alice")).length, 3);
    assert.equal((await dovecot.messages("carol")).length, 1);
  });

  it("stop() closes the port and removes the dir", async () => {
    const t0 = performance.now();
    await dovecot.stop();
    console.log(`# stop took ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(await connectRefused(dovecot.imapPort), true);
    assert.equal(await connectRefused(dovecot.pop3Port), true);
    assert.equal(existsSync(dovecot.dir), false);
    await dovecot.stop(); // idempotent
    await assert.rejects(dovecot.messages("alice"), /stopped/);
  });
});

describe("startDovecot: TLS instance", () => {
  let dovecot: DovecotInstance;

  before(async () => {
    const t0 = performance.now();
    dovecot = await startDovecot({ users: [{ name: "tls-user", password: "pw" }], tls: true });
    console.log(`# TLS instance started in ${(performance.now() - t0).toFixed(0)} ms`);
  });

  after(async () => {
    await dovecot?.stop();
  });

  it("IMAPS verifies against caCertPem", async () => {
    assert.ok(dovecot.imapsPort && dovecot.pop3sPort && dovecot.caCertPem);
    const secure = await withImap(
      {
        host: dovecot.host,
        port: dovecot.imapsPort,
        secure: true,
        tls: { ca: dovecot.caCertPem },
        auth: { user: "tls-user", pass: "pw" },
      },
      async (client) => client.secureConnection,
    );
    assert.equal(secure, true);
    // Without the CA the self-signed certificate must be rejected: verification is real.
    await assert.rejects(
      withImap({ host: dovecot.host, port: dovecot.imapsPort, secure: true, auth: { user: "tls-user", pass: "pw" } }),
      /self.signed|certificate/i,
    );
  });

  it("offers STARTTLS on the plain IMAP port", async () => {
    const secure = await withImap(
      {
        host: dovecot.host,
        port: dovecot.imapPort,
        secure: false,
        doSTARTTLS: true,
        tls: { ca: dovecot.caCertPem },
        auth: { user: "tls-user", pass: "pw" },
      },
      async (client) => client.secureConnection,
    );
    assert.equal(secure, true);
  });

  it("serves POP3S and the harness helpers still work", async () => {
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host: "127.0.0.1", port: dovecot.pop3sPort, ca: dovecot.caCertPem }, () => resolve(s));
      s.once("error", reject);
    });
    try {
      const greeting = await lineReader(socket)();
      assert.ok(greeting.startsWith("+OK"), greeting);
    } finally {
      socket.destroy();
    }
    await dovecot.append("tls-user", makeMessage({ subject: "over tls instance" }));
    assert.equal((await dovecot.messages("tls-user")).length, 1);
  });
});

describe("startDovecot: OAuth2 introspection", () => {
  let dovecot: DovecotInstance;
  let server: http.Server;
  const tokens = new Map([["good-token", "oauth-user"]]);

  before(async () => {
    // Stand-in for the IdP's RFC 7662 endpoint: Dovecot POSTs token=... form-encoded.
    server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        const token = new URLSearchParams(body).get("token") ?? "";
        const username = tokens.get(token);
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(username ? { active: true, username } : { active: false }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const { port } = server.address() as net.AddressInfo;
    dovecot = await startDovecot({
      users: [{ name: "oauth-user", password: "pw" }],
      oauth2IntrospectionUrl: `http://127.0.0.1:${port}/introspect`,
    });
  });

  after(async () => {
    await dovecot?.stop();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  it("accepts a valid token, refuses a bad one, keeps password login", async () => {
    const base = { host: dovecot.host, port: dovecot.imapPort };
    await withImap({ ...base, auth: { user: "oauth-user", accessToken: "good-token" } });
    await assert.rejects(
      withImap({ ...base, auth: { user: "oauth-user", accessToken: "garbage" } }),
      (err: Error & { authenticationFailed?: boolean }) => err.authenticationFailed === true,
    );
    await withImap({ ...base, auth: { user: "oauth-user", pass: "pw" } });
  });
});

describe("startDovecot: tuneForManyClients", () => {
  let dovecot: DovecotInstance;

  before(async () => {
    dovecot = await startDovecot({ users: [{ name: "load", password: "pw" }], tuneForManyClients: true });
  });

  after(async () => {
    await dovecot?.stop();
  });

  it("applies the limits; every IDLE client of one user gets EXISTS", async () => {
    const { stdout } = await execFileAsync("doveconf", ["-c", path.join(dovecot.dir, "dovecot.conf"), "-n"]);
    assert.match(stdout, /service imap \{[^}]*process_limit = 1024/);
    assert.match(stdout, /mail_max_userip_connections = 10000/);
    assert.match(stdout, /service imap-login \{\n(?: {2}.*\n)* {2}service_count = 0\n\}/);

    // More than the default mail_max_userip_connections (10) for one user from one IP, all
    // idling on INBOX: each must be told about the new message.
    const count = 12;
    const notified = new Set<number>();
    const clients = Array.from({ length: count }, (_, i) => {
      const client = new ImapFlow({
        host: dovecot.host,
        port: dovecot.imapPort,
        auth: { user: "load", pass: "pw" },
        logger: false,
        disableAutoIdle: true,
      });
      client.on("error", () => undefined);
      client.on("exists", () => notified.add(i));
      return client;
    });
    try {
      await Promise.all(clients.map((c) => c.connect()));
      await Promise.all(clients.map((c) => c.mailboxOpen("INBOX")));
      for (const c of clients) void c.idle().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200)); // let IDLE reach the server
      const t0 = performance.now();
      await dovecot.append("load", makeMessage({ subject: "wake up" }));
      while (notified.size < count && performance.now() - t0 < 5000) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      console.log(`# ${notified.size}/${count} IDLE clients saw EXISTS after ${(performance.now() - t0).toFixed(0)} ms`);
      assert.equal(notified.size, count);
    } finally {
      await Promise.all(clients.map((c) => (c.usable ? c.logout().catch(() => c.close()) : c.close())));
    }
  });
});

describe("makeMessage", () => {
  it("builds an RFC 5322 message with CRLF line endings only", () => {
    const date = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
    const raw = makeMessage({ subject: "Grüße", body: "line 1\nline 2\r\nline 3", date, messageId: "<id@x>" });
    assert.ok(!/[^\r]\n/.test(raw), "no bare LF");
    assert.ok(raw.endsWith("\r\n"));
    assert.match(raw, /^From: .+\r\nTo: .+\r\n/);
    assert.match(raw, /\r\nSubject: =\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=\r\n/);
    assert.match(raw, /\r\nDate: Tue, 02 Jan 2024 03:04:05 \+0000\r\n/);
    assert.match(raw, /\r\nMessage-ID: <id@x>\r\n/);
    assert.match(raw, /\r\n\r\nline 1\r\nline 2\r\nline 3\r\n$/);
  });
});
