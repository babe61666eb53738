import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import { mulberry32 } from "@/lib/util/seeded-random";
import {
  apopDigest,
  hasCapability,
  listingLines,
  loginDelaySeconds,
  parseApopTimestamp,
  parseCapabilities,
  parseListListing,
  parseStatusLine,
  parseUidlListing,
  Pop3Client,
  Pop3ReplyParser,
  Pop3WireError,
  type Pop3ClientOptions,
  type Pop3Limits,
  type Pop3Reply,
  type Pop3ReplyKind,
} from "./pop3-client";
import { MailError } from "@/lib/email/provider";

const b = (s: string): Buffer => Buffer.from(s, "latin1");

/** Feeds `data` in the given chunk sizes (cycled) and returns the reply, or the error thrown. */
function feed(kind: Pop3ReplyKind, data: Buffer, chunkSizes: number[] = [data.length || 1], limits?: Pop3Limits): Pop3Reply | null {
  const parser = new Pop3ReplyParser(limits);
  parser.expect(kind);
  let reply: Pop3Reply | null = null;
  let i = 0;
  for (let pos = 0; pos < data.length; i++) {
    const size = Math.max(1, chunkSizes[i % chunkSizes.length] ?? 1);
    const r = parser.push(data.subarray(pos, pos + size));
    if (r) reply = r;
    pos += size;
  }
  return reply;
}

describe("parseStatusLine", () => {
  it("pins +OK / -ERR with text and RFC 2449 response codes", () => {
    assert.deepEqual(parseStatusLine("+OK"), { ok: true, text: "", code: null });
    assert.deepEqual(parseStatusLine("+OK Dovecot (Debian) ready."), { ok: true, text: "Dovecot (Debian) ready.", code: null });
    assert.deepEqual(parseStatusLine("-ERR [AUTH] Authentication failed."), { ok: false, text: "[AUTH] Authentication failed.", code: "AUTH" });
    assert.deepEqual(parseStatusLine("-ERR [SYS/TEMP] try later"), { ok: false, text: "[SYS/TEMP] try later", code: "SYS/TEMP" });
    assert.deepEqual(parseStatusLine("-ERR [in-use] locked"), { ok: false, text: "[in-use] locked", code: "IN-USE" });
    assert.deepEqual(parseStatusLine("+ok lower case"), { ok: true, text: "lower case", code: null });
    assert.deepEqual(parseStatusLine("-ERR"), { ok: false, text: "", code: null });
    assert.deepEqual(parseStatusLine("+OK a\x00b\x1bc"), { ok: true, text: "a?b?c", code: null });
  });

  it("rejects anything else", () => {
    for (const line of ["", "OK", "+OKAY", "-ERROR x", "+ OK", "* OK imap", " +OK", "+OK\r", "-ERR\nx"]) {
      assert.throws(() => parseStatusLine(line), Pop3WireError, JSON.stringify(line));
    }
  });
});

describe("Pop3ReplyParser", () => {
  it("reads a single-line reply; CR is optional", () => {
    assert.deepEqual(feed("single", b("+OK hello\r\n")), { ok: true, text: "hello", code: null, body: null });
    assert.deepEqual(feed("single", b("-ERR no\n")), { ok: false, text: "no", code: null, body: null });
  });

  it("returns a message with byte-stuffing undone and CRLF (and bare LF) preserved", () => {
    const wire = b("+OK 120 octets\r\nSubject: x\r\n\r\n..leading dot\r\n...\r\n.\tdot-tab\r\nbare lf\nmid\rcr\r\n..\r\n.\r\n");
    const expected = b("Subject: x\r\n\r\n.leading dot\r\n..\r\n\tdot-tab\r\nbare lf\nmid\rcr\r\n.\r\n");
    const reply = feed("message", wire);
    assert.equal(reply?.ok, true);
    assert.equal(reply?.text, "120 octets");
    assert.deepEqual(reply?.body, expected);
  });

  it("gives the same result whatever the chunking (every split point, byte by byte)", () => {
    const wire = b("+OK\r\nline 1\r\n..stuffed\r\n\r\nlast\r\n.\r\n");
    const whole = feed("message", wire);
    assert.deepEqual(whole?.body, b("line 1\r\n.stuffed\r\n\r\nlast\r\n"));
    for (let split = 1; split < wire.length; split++) {
      assert.deepEqual(feed("message", wire, [split, wire.length]), whole, `split at ${split}`);
    }
    assert.deepEqual(feed("message", wire, [1]), whole);
    assert.deepEqual(feed("message", wire, [3, 1, 7]), whole);
  });

  it("an empty message and -ERR to a multi-line command have no body", () => {
    assert.deepEqual(feed("message", b("+OK\r\n.\r\n")), { ok: true, text: "", code: null, body: Buffer.alloc(0) });
    assert.deepEqual(feed("listing", b("-ERR [SYS/PERM] nope\r\n")), { ok: false, text: "[SYS/PERM] nope", code: "SYS/PERM", body: null });
  });

  it("returns null until the terminating dot line arrives", () => {
    const parser = new Pop3ReplyParser();
    parser.expect("listing");
    assert.equal(parser.push(b("+OK\r\n1 a\r\n")), null);
    assert.equal(parser.push(b(".")), null);
    assert.equal(parser.push(b("\r")), null);
    assert.deepEqual(parser.push(b("\n")), { ok: true, text: "", code: null, body: b("1 a\r\n") });
    assert.equal(parser.expecting, false);
  });

  it("treats bytes nobody asked for as a violation", () => {
    const idle = new Pop3ReplyParser();
    assert.throws(() => idle.push(b("+OK\r\n")), Pop3WireError);
    const parser = new Pop3ReplyParser();
    parser.expect("single");
    assert.throws(() => parser.push(b("+OK\r\n+OK again\r\n")), /no command asked for/);
    const empty = new Pop3ReplyParser();
    assert.equal(empty.push(Buffer.alloc(0)), null);
  });

  it("enforces the line, listing and message limits", () => {
    const limits: Pop3Limits = { maxLineBytes: 16, maxListingBytes: 20, maxMessageBytes: 30 };
    assert.deepEqual(feed("single", b("+OK 0123456789\r\n"), undefined, limits)?.text, "0123456789");
    assert.throws(() => feed("single", b("+OK 01234567890\r\n"), undefined, limits), /line too long/);
    // Without any newline the limit still holds (a server streaming one endless line).
    assert.throws(() => feed("single", b("+OK ".padEnd(100, "x")), [5], limits), /line too long/);
    assert.throws(() => feed("listing", b("+OK\r\n0123456789abcdefg\r\n.\r\n"), undefined, limits), /line too long/);
    assert.throws(() => feed("listing", b("+OK\r\n1 aaaaaa\r\n2 bbbbbb\r\n3 cccccc\r\n.\r\n"), undefined, limits), /listing too large/);
    // Message lines may exceed maxLineBytes; the message as a whole may not exceed maxMessageBytes.
    assert.deepEqual(feed("message", b(`+OK\r\n${"m".repeat(28)}\r\n.\r\n`), [4], limits)?.body?.length, 30);
    assert.throws(() => feed("message", b(`+OK\r\n${"m".repeat(29)}\r\n.\r\n`), [4], limits), /message too large/);
    assert.throws(() => feed("message", b(`+OK\r\n${"m".repeat(200)}`), [7], limits), /message too large/);
  });
});

describe("listings", () => {
  it("parses UIDL listings, sorted by message number", () => {
    assert.deepEqual(parseUidlListing(b("2 000000027d2c5f5e\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n10 x\n")), [
      { num: 1, uid: "whqtswO00WBw418f9t5JxYwZ" },
      { num: 2, uid: "000000027d2c5f5e" },
      { num: 10, uid: "x" },
    ]);
    assert.deepEqual(parseUidlListing(Buffer.alloc(0)), []);
    assert.deepEqual(parseUidlListing(b(`1 ${"u".repeat(255)}\r\n`))[0]?.uid.length, 255);
  });

  it("rejects malformed UIDL lines", () => {
    for (const bad of ["0 a", "1", "1 ", "x a", "1 a b", "1 a\u00ff", "-1 a", "01 a", "99999999999 a", `1 ${"u".repeat(256)}`, "1 a\r\n1 b", "", "\r\n"]) {
      assert.throws(() => parseUidlListing(b(`${bad}\r\n`)), Pop3WireError, JSON.stringify(bad));
    }
  });

  it("parses LIST listings", () => {
    assert.deepEqual(parseListListing(b("1 120\r\n3 4500 extra\r\n")), [
      { num: 1, size: 120 },
      { num: 3, size: 4500 },
    ]);
    assert.throws(() => parseListListing(b("1 big\r\n")), Pop3WireError);
  });

  it("splits listing lines and reads capabilities", () => {
    assert.deepEqual(listingLines(b("a\r\nb\nc\r\n")), ["a", "b", "c"]);
    assert.deepEqual(listingLines(b("a\r\n\r\n")), ["a", ""]);
    const caps = parseCapabilities(b("CAPA\r\nTOP\r\nUIDL\r\n  \r\nSASL PLAIN LOGIN\r\nstls\r\nLOGIN-DELAY 900\r\n"));
    assert.deepEqual(caps, ["CAPA", "TOP", "UIDL", "SASL PLAIN LOGIN", "stls", "LOGIN-DELAY 900"]);
    assert.equal(hasCapability(caps, "STLS"), true);
    assert.equal(hasCapability(caps, "PLAIN"), false);
    assert.equal(hasCapability(null, "UIDL"), false);
    assert.equal(loginDelaySeconds(caps), 900);
    assert.equal(loginDelaySeconds(["USER"]), null);
  });
});

describe("APOP", () => {
  it("finds the greeting's timestamp", () => {
    assert.equal(parseApopTimestamp("POP3 server ready <1896.697170952@dbc.mtview.ca.us>"), "<1896.697170952@dbc.mtview.ca.us>");
    assert.equal(parseApopTimestamp("Dovecot (Debian) ready."), null);
    assert.equal(parseApopTimestamp("ready <no-at-sign>"), null);
  });

  it("computes the RFC 1939 §7 example digest", () => {
    assert.equal(apopDigest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf"), "c4c9334bac560ecc979e58001b3e22fb");
  });
});

// ---------------------------------------------------------------------------------------------
// Against local fake servers
// ---------------------------------------------------------------------------------------------

type Respond = (command: string, socket: net.Socket) => void;

const servers = new Set<net.Server>();
after(async () => {
  await Promise.all([...servers].map((s) => new Promise((r) => s.close(r))));
});

/** A line-based fake POP3 server: writes `greeting`, then hands each command line to `respond`. */
async function fakeServer(greeting: string | ((socket: net.Socket) => void) | null, respond: Respond): Promise<{ port: number; commands: string[]; close: () => Promise<void> }> {
  const commands: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
    if (typeof greeting === "function") greeting(socket);
    else if (greeting !== null) socket.write(greeting);
    let buffer = "";
    socket.on("data", (chunk) => {
      buffer += chunk.toString("latin1");
      let eol: number;
      while ((eol = buffer.indexOf("\r\n")) !== -1) {
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        commands.push(line);
        if (!socket.destroyed) respond(line, socket);
      }
    });
  });
  servers.add(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    commands,
    close: async () => {
      for (const s of sockets) s.destroy();
      servers.delete(server);
      await new Promise((r) => server.close(r));
    },
  };
}

function options(port: number, extra: Partial<Pop3ClientOptions> = {}): Pop3ClientOptions {
  return { host: "127.0.0.1", port, tls: "none", connectTimeoutMs: 2000, idleTimeoutMs: 1000, ...extra };
}

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<MailError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof MailError, `expected MailError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail("expected a rejection");
}

const MESSAGE = "Subject: hi\r\n\r\n.starts with a dot\r\nend\r\n";
const STUFFED = "Subject: hi\r\n\r\n..starts with a dot\r\nend\r\n";

/** A well-behaved server with two messages, an APOP timestamp and the secret "s3cret". */
function goodServer(opts: { stls?: boolean; deleted?: Set<number> } = {}): Respond {
  const deleted = opts.deleted ?? new Set<number>();
  let user = "";
  return (cmd, socket) => {
    const [verb = "", arg = ""] = cmd.split(" ");
    switch (verb.toUpperCase()) {
      case "CAPA":
        return void socket.write(`+OK\r\nUSER\r\nUIDL\r\nRESP-CODES\r\n${opts.stls ? "STLS\r\n" : ""}.\r\n`);
      case "USER":
        user = arg;
        return void socket.write("+OK\r\n");
      case "PASS":
        return void socket.write(user === "alice" && cmd === "PASS s3cret" ? "+OK logged in\r\n" : "-ERR [AUTH] Authentication failed.\r\n");
      case "APOP":
        return void socket.write(
          cmd === `APOP alice ${apopDigest("<42.7@fake.test>", "s3cret")}` ? "+OK\r\n" : "-ERR [AUTH] bad digest\r\n",
        );
      case "UIDL":
        return void socket.write("+OK\r\n1 uid-one\r\n2 uid-two\r\n.\r\n");
      case "LIST":
        return void socket.write(`+OK\r\n1 ${MESSAGE.length}\r\n2 5\r\n.\r\n`);
      case "RETR":
        if (arg === "1") return void socket.write(`+OK\r\n${STUFFED}.\r\n`);
        if (arg === "2") return void socket.write("+OK\r\nx\r\n.\r\n");
        return void socket.write("-ERR no such message\r\n");
      case "DELE":
        deleted.add(Number(arg));
        return void socket.write("+OK\r\n");
      case "NOOP":
      case "RSET":
        return void socket.write("+OK\r\n");
      case "QUIT":
        socket.end("+OK bye\r\n");
        return;
      default:
        return void socket.write("-ERR unknown\r\n");
    }
  };
}

describe("Pop3Client against a fake server", () => {
  it("runs a whole session: greeting, CAPA, USER/PASS, UIDL, LIST, RETR, DELE, QUIT", async () => {
    const deleted = new Set<number>();
    const server = await fakeServer("+OK ready <42.7@fake.test>\r\n", goodServer({ deleted }));
    const client = await Pop3Client.connect(options(server.port));
    assert.equal(client.greeting, "ready <42.7@fake.test>");
    assert.equal(client.apopTimestamp, "<42.7@fake.test>");
    assert.deepEqual(client.capabilities, ["USER", "UIDL", "RESP-CODES"]);
    await client.login("alice", "s3cret");
    assert.deepEqual(await client.uidl(), [
      { num: 1, uid: "uid-one" },
      { num: 2, uid: "uid-two" },
    ]);
    assert.deepEqual(await client.list(), [
      { num: 1, size: MESSAGE.length },
      { num: 2, size: 5 },
    ]);
    assert.deepEqual(await client.retr(1), b(MESSAGE));
    assert.equal(await client.retr(3), null);
    await client.noop();
    assert.equal(await client.dele(2), true);
    await client.quit();
    assert.equal(client.isOpen, false);
    assert.deepEqual([...deleted], [2]);
    assert.deepEqual(server.commands, ["CAPA", "USER alice", "PASS s3cret", "UIDL", "LIST", "RETR 1", "RETR 3", "NOOP", "DELE 2", "QUIT"]);
    await server.close();
  });

  it("serializes commands issued without awaiting", async () => {
    const server = await fakeServer("+OK ready\r\n", goodServer());
    const client = await Pop3Client.connect(options(server.port));
    await client.login("alice", "s3cret");
    const [a, b1, c] = await Promise.all([client.retr(1), client.retr(2), client.uidl()]);
    assert.deepEqual(a, b(MESSAGE));
    assert.deepEqual(b1, b("x\r\n"));
    assert.equal(c.length, 2);
    client.close();
    await server.close();
  });

  it("logs in with APOP when asked, and only if the greeting has a timestamp", async () => {
    const server = await fakeServer("+OK ready <42.7@fake.test>\r\n", goodServer());
    const client = await Pop3Client.connect(options(server.port));
    await client.login("alice", "s3cret", "apop");
    assert.equal(server.commands[1], "APOP alice ec30b0e459af3d90c29f7e0e90e4459b");
    assert.ok(!server.commands.some((c) => c.startsWith("PASS")), "the password itself is never sent");
    await client.quit();
    const wrong = await Pop3Client.connect(options(server.port));
    await rejectsWith(wrong.login("alice", "nope", "apop"), "auth");
    wrong.close();
    const plain = await fakeServer("+OK ready\r\n", goodServer());
    const noApop = await Pop3Client.connect(options(plain.port));
    await rejectsWith(noApop.login("alice", "s3cret", "apop"), "config", /does not offer APOP/);
    noApop.close();
    await server.close();
    await plain.close();
  });

  it("maps -ERR to PASS as auth, and RFC 3206 codes to retryable errors", async () => {
    const server = await fakeServer("+OK ready\r\n", goodServer());
    const client = await Pop3Client.connect(options(server.port));
    const err = await rejectsWith(client.login("alice", "wrong"), "auth", /rejected the username or password/);
    assert.equal(err.isAuthFailure, true);
    client.close();
    for (const [code, expected] of [
      ["IN-USE", "network"],
      ["SYS/TEMP", "network"],
      ["LOGIN-DELAY", "rate_limited"],
      ["SYS/PERM", "unknown"],
    ] as const) {
      const s = await fakeServer("+OK\r\n", (cmd, socket) => {
        if (cmd === "CAPA") socket.write("+OK\r\nLOGIN-DELAY 120\r\n.\r\n");
        else if (cmd.startsWith("USER")) socket.write("+OK\r\n");
        else socket.write(`-ERR [${code}] later\r\n`);
      });
      const c = await Pop3Client.connect(options(s.port));
      const e = await rejectsWith(c.login("alice", "x"), expected);
      if (code === "LOGIN-DELAY") assert.equal(e.options.retryAfterMs, 120_000);
      c.close();
      await s.close();
    }
    await server.close();
  });

  it("refuses credentials that would inject a command", async () => {
    const server = await fakeServer("+OK ready\r\n", goodServer());
    const client = await Pop3Client.connect(options(server.port));
    await rejectsWith(client.login("alice", "s3cret\r\nDELE 1"), "config", /line break/);
    await rejectsWith(client.login("alice\nx", "s3cret"), "config");
    assert.deepEqual(server.commands, ["CAPA"]);
    client.close();
    await server.close();
  });

  it("works without CAPA support and reports a missing UIDL", async () => {
    const server = await fakeServer("+OK old server\r\n", (cmd, socket) => socket.write(cmd === "UIDL" || cmd === "CAPA" ? "-ERR what?\r\n" : "+OK\r\n"));
    const client = await Pop3Client.connect(options(server.port));
    assert.equal(client.capabilities, null);
    await client.login("a", "b");
    await rejectsWith(client.uidl(), "protocol", /does not support UIDL/);
    client.close();
    await server.close();
  });

  it("times out on a silent server within its timeout", async () => {
    const silentGreeting = await fakeServer(null, () => undefined);
    let started = Date.now();
    await rejectsWith(Pop3Client.connect(options(silentGreeting.port, { connectTimeoutMs: 300 })), "timeout");
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    const silentReply = await fakeServer("+OK\r\n", (cmd, socket) => {
      if (cmd === "CAPA") socket.write("+OK\r\n.\r\n");
    });
    const client = await Pop3Client.connect(options(silentReply.port, { idleTimeoutMs: 200 }));
    started = Date.now();
    await rejectsWith(client.uidl(), "timeout");
    assert.ok(Date.now() - started < 800, `took ${Date.now() - started} ms`);
    assert.equal(client.isOpen, false);
    await rejectsWith(client.noop(), "timeout");
    // A server that trickles bytes forever is cut off by the total reply timeout.
    const drip = await fakeServer("+OK\r\n", (cmd, socket) => {
      if (cmd === "CAPA") return void socket.write("+OK\r\n.\r\n");
      socket.write("+OK\r\n");
      const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write("x")), 20);
    });
    const dripClient = await Pop3Client.connect(options(drip.port, { idleTimeoutMs: 200, replyTimeoutMs: 400 }));
    started = Date.now();
    await rejectsWith(dripClient.retr(1), "timeout");
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    for (const s of [silentGreeting, silentReply, drip]) await s.close();
  });

  it("reports a closed connection, a refused port and a -ERR greeting", async () => {
    const closing = await fakeServer("+OK\r\n", (cmd, socket) => (cmd === "CAPA" ? socket.write("+OK\r\n.\r\n") : socket.destroy()));
    const client = await Pop3Client.connect(options(closing.port));
    await rejectsWith(client.uidl(), "network", /closed by the server/);
    await closing.close();
    const freePort = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    await rejectsWith(Pop3Client.connect(options(freePort)), "refused");
    const busy = await fakeServer("-ERR [SYS/TEMP] too many connections\r\n", () => undefined);
    await rejectsWith(Pop3Client.connect(options(busy.port)), "network", /refused the POP3 session/);
    await busy.close();
  });

  it("ends the session on a malformed reply and on unsolicited data", async () => {
    const server = await fakeServer("+OK\r\n", (cmd, socket) => {
      if (cmd === "CAPA") socket.write("+OK\r\n.\r\n");
      else if (cmd === "UIDL") socket.write("+OK\r\n1 a b c\r\n.\r\n");
      else socket.write("+OK\r\n+OK unsolicited\r\n");
    });
    const client = await Pop3Client.connect(options(server.port));
    await rejectsWith(client.uidl(), "protocol", /not valid POP3/);
    assert.equal(client.isOpen, false);
    const other = await Pop3Client.connect(options(server.port));
    await rejectsWith(other.noop(), "protocol");
    await server.close();
  });

  it("speaking TLS to a plaintext server fails as a TLS error", async () => {
    const server = await fakeServer("+OK ready\r\n", goodServer());
    await rejectsWith(Pop3Client.connect(options(server.port, { tls: "implicit" })), "tls");
    await server.close();
  });

  it("requires STLS in starttls mode (never USER/PASS in clear), and fails cleanly if the upgrade breaks", async () => {
    // A server (or a man in the middle stripping the offer) without STLS: refused before any login.
    const plain = await fakeServer("+OK ready\r\n", goodServer());
    await rejectsWith(Pop3Client.connect(options(plain.port, { tls: "starttls" })), "tls", /does not offer STARTTLS/);
    assert.deepEqual(plain.commands, ["CAPA"]);
    // Plaintext only when chosen explicitly.
    const chosen = await Pop3Client.connect(options(plain.port, { tls: "none" }));
    assert.equal(chosen.secure, false);
    chosen.close();
    await plain.close();
    // Offered, accepted, then plaintext garbage instead of a handshake.
    const broken = await fakeServer("+OK ready\r\n", (cmd, socket) => {
      if (cmd === "CAPA") socket.write("+OK\r\nSTLS\r\n.\r\n");
      else if (cmd === "STLS") socket.write("+OK Begin TLS\r\n", () => socket.write("this is not TLS\r\n"));
    });
    await rejectsWith(Pop3Client.connect(options(broken.port, { tls: "starttls" })), "tls");
    await broken.close();
    // Offered, then refused.
    const refusing = await fakeServer("+OK ready\r\n", (cmd, socket) => {
      if (cmd === "CAPA") socket.write("+OK\r\nSTLS\r\n.\r\n");
      else socket.write("-ERR not now\r\n");
    });
    await rejectsWith(Pop3Client.connect(options(refusing.port, { tls: "starttls" })), "tls", /refused to start TLS/);
    // Offered, accepted, then silence: the connect timeout covers the handshake.
    const silent = await fakeServer("+OK ready\r\n", (cmd, socket) => {
      if (cmd === "CAPA") socket.write("+OK\r\nSTLS\r\n.\r\n");
      else if (cmd === "STLS") socket.write("+OK\r\n");
    });
    const started = Date.now();
    await rejectsWith(Pop3Client.connect(options(silent.port, { tls: "starttls", connectTimeoutMs: 300 })), "timeout");
    assert.ok(Date.now() - started < 1000);
    await refusing.close();
    await silent.close();
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzzing
// ---------------------------------------------------------------------------------------------

const prng = mulberry32;

type Rng = () => number;
const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)] as T;

/** Bytes biased towards the ones POP3 framing cares about. */
function randomBytes(rng: Rng, length: number): Buffer {
  const special = [0x0d, 0x0a, 0x2e, 0x2b, 0x2d, 0x20, 0x5b, 0x5d, 0x00, 0xff];
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = rng() < 0.4 ? pick(rng, special) : int(rng, 256);
  return out;
}

const FUZZ_LIMITS: Pop3Limits = { maxLineBytes: 256, maxListingBytes: 2048, maxMessageBytes: 8192 };

function mutate(rng: Rng, valid: Buffer): Buffer {
  const data = Buffer.from(valid);
  switch (int(rng, 10)) {
    case 0:
      return randomBytes(rng, int(rng, 300));
    case 1: // truncated
      return data.subarray(0, int(rng, data.length + 1));
    case 2: // line endings broken
      return b(data.toString("latin1").replace(/\r\n/g, pick(rng, ["\n", "\r", "\r\r\n", "\n\r"])));
    case 3: // flipped bytes
      for (let i = 0; i < 1 + int(rng, 4); i++) if (data.length) data[int(rng, data.length)] = int(rng, 256);
      return data;
    case 4: { // inserted bytes
      const at = int(rng, data.length + 1);
      return Buffer.concat([data.subarray(0, at), randomBytes(rng, 1 + int(rng, 40)), data.subarray(at)]);
    }
    case 5: // duplicated (bytes nobody asked for)
      return Buffer.concat([data, data]);
    case 6: // oversized line or message
      return Buffer.concat([data.subarray(0, 5), Buffer.alloc(200 + int(rng, 12000), 0x61)]);
    case 7:
      return b(`-ERR [${pick(rng, ["AUTH", "IN-USE", "SYS/TEMP", "LOGIN-DELAY", "X", ""])}] no\r\n`);
    case 8: // a valid status with a broken body
      return b(`+OK\r\n${randomBytes(rng, int(rng, 100)).toString("latin1")}\r\n.\r\n`);
    default:
      return Buffer.alloc(0);
  }
}

type Ending = "none" | "close" | "reset" | "hang";

/** One fuzz case's server: valid replies, each mutated with some probability, written in random pieces. */
function fuzzResponder(rng: Rng): { greet: (socket: net.Socket) => void; respond: Respond } {
  const mutateRate = pick(rng, [0.05, 0.2, 0.5, 1]);
  const stls = rng() < 0.2;
  const apop = rng() < 0.5;
  const count = int(rng, 4);
  const message = (i: number): string =>
    `Subject: ${i}\r\n\r\n${Array.from({ length: int(rng, 5) }, () => pick(rng, ["..", ".x", "text", "", "...."])).join("\r\n")}\r\n`;
  const valid = (cmd: string): Buffer => {
    const verb = cmd.split(" ")[0]?.toUpperCase();
    switch (verb) {
      case "CAPA":
        return b(`+OK\r\nUSER\r\nUIDL\r\n${stls ? "STLS\r\n" : ""}.\r\n`);
      case "UIDL":
        return b(`+OK\r\n${Array.from({ length: count }, (_, i) => `${i + 1} uid${i + 1}\r\n`).join("")}.\r\n`);
      case "RETR":
        return b(`+OK\r\n${message(Number(cmd.split(" ")[1]))}.\r\n`);
      case "STLS":
        return b(`+OK\r\n${rng() < 0.5 ? randomBytes(rng, int(rng, 50)).toString("latin1") : ""}`);
      case "QUIT":
        return b("+OK bye\r\n");
      default:
        return b("+OK\r\n");
    }
  };
  const ending = (): Ending => (rng() < mutateRate ? pick(rng, ["none", "none", "close", "reset", "hang"] as const) : "none");
  const send = (socket: net.Socket, data: Buffer, end: Ending): void => {
    // Random pieces, sometimes with small delays: bounded so every case stays short.
    const pieces: Buffer[] = [];
    for (let pos = 0; pos < data.length; ) {
      const size = 1 + int(rng, rng() < 0.3 ? 4 : 512);
      pieces.push(data.subarray(pos, pos + size));
      pos += size;
    }
    const delayed = rng() < 0.1;
    let i = 0;
    const next = (): void => {
      if (socket.destroyed) return;
      const piece = pieces[i++];
      if (piece) {
        socket.write(piece);
        if (delayed && i < 20) setTimeout(next, int(rng, 10));
        else next();
        return;
      }
      if (end === "close") socket.end();
      else if (end === "reset") socket.resetAndDestroy();
      // "hang": say nothing more; the client's timeouts must end it.
    };
    next();
  };
  const greetingValid = b(`+OK fuzz ready${apop ? " <1.2@fuzz>" : ""}\r\n`);
  const greeting = rng() < mutateRate / 2 ? mutate(rng, greetingValid) : greetingValid;
  return {
    greet: (socket) => send(socket, greeting, ending()),
    respond: (cmd, socket) => {
      const data = valid(cmd);
      const end = cmd.toUpperCase() === "QUIT" ? "close" : ending();
      send(socket, rng() < mutateRate ? mutate(rng, data) : data, end);
    },
  };
}

describe("fuzzing the wire handling", () => {
  it("the reply parser only ever throws Pop3WireError, and chunking never changes the outcome", () => {
    const rng = prng(0x5eed);
    const kinds: Pop3ReplyKind[] = ["single", "listing", "message"];
    const seeds = [b("+OK\r\n1 a\r\n..x\r\n.\r\n"), b("-ERR [AUTH] x\r\n"), b("+OK hi\r\n"), b("+OK\r\n.\r\n")];
    for (let n = 0; n < 5000; n++) {
      const kind = pick(rng, kinds);
      const data = rng() < 0.5 ? mutate(rng, pick(rng, seeds)) : randomBytes(rng, int(rng, 80));
      const outcome = (sizes: number[]): string => {
        try {
          const reply = feed(kind, data, sizes, FUZZ_LIMITS);
          return JSON.stringify(reply && { ...reply, body: reply.body?.toString("hex") ?? null });
        } catch (err) {
          assert.ok(err instanceof Pop3WireError, `case ${n}: threw ${String(err)}`);
          return `error: ${err.message}`;
        }
      };
      const whole = outcome([data.length || 1]);
      const split = outcome(Array.from({ length: 8 }, () => 1 + int(rng, 6)));
      // Errors may be detected at a different byte, but ok/error and the reply itself must agree.
      assert.equal(split.startsWith("error") ? "error" : split, whole.startsWith("error") ? "error" : whole, `case ${n}`);
    }
  });

  it("3000 garbled server conversations: only MailErrors, no hang past the timeouts, no crash", async () => {
    const CASES = 3000;
    const CONCURRENCY = 32;
    const timeouts = { connectTimeoutMs: 500, idleTimeoutMs: 250, replyTimeoutMs: 600 };
    // connect + at most 11 commands (CAPA, STLS, CAPA, USER, PASS, UIDL, 3x(RETR, DELE) capped at 3) + slack
    const perCaseBoundMs = timeouts.connectTimeoutMs + 12 * timeouts.replyTimeoutMs + 500;
    const crashes: unknown[] = [];
    const onCrash = (err: unknown): void => void crashes.push(err);
    process.on("uncaughtException", onCrash);
    process.on("unhandledRejection", onCrash);
    const failures: string[] = [];
    const outcomes = new Map<string, number>();
    let slowest = 0;
    const runCase = async (n: number): Promise<void> => {
      const rng = prng(0xf022 + n * 7919);
      const { greet, respond } = fuzzResponder(rng);
      const server = await fakeServer(greet, respond);
      const tlsMode = pick(rng, ["none", "none", "none", "starttls", "implicit"] as const);
      const useApop = rng() < 0.3;
      const started = Date.now();
      let client: Pop3Client | null = null;
      try {
        client = await Pop3Client.connect({ host: "127.0.0.1", port: server.port, tls: tlsMode, limits: FUZZ_LIMITS, ...timeouts });
        await client.login("user", "pass", useApop && client.apopTimestamp ? "apop" : "user");
        const listing = await client.uidl();
        for (const entry of listing.slice(0, 3)) {
          await client.retr(entry.num);
          await client.dele(entry.num);
        }
        await client.quit();
        outcomes.set("ok", (outcomes.get("ok") ?? 0) + 1);
      } catch (err) {
        if (!(err instanceof MailError)) failures.push(`case ${n}: non-MailError ${String(err)}`);
        else outcomes.set(err.code, (outcomes.get(err.code) ?? 0) + 1);
      } finally {
        client?.close();
        await server.close();
      }
      const elapsed = Date.now() - started;
      slowest = Math.max(slowest, elapsed);
      if (elapsed > perCaseBoundMs) failures.push(`case ${n}: took ${elapsed} ms`);
    };
    let next = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < CASES) await runCase(next++);
      }),
    );
    process.off("uncaughtException", onCrash);
    process.off("unhandledRejection", onCrash);
    console.log(`# ${CASES} cases in ${Date.now() - started} ms, slowest ${slowest} ms, outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
    assert.deepEqual(failures.slice(0, 10), []);
    assert.deepEqual(crashes, []);
    // The fuzz must reach both ends: sessions that succeed and every kind of failure.
    assert.ok((outcomes.get("ok") ?? 0) > 20, "some sessions succeed");
    for (const code of ["protocol", "timeout", "network", "tls", "auth"]) assert.ok((outcomes.get(code) ?? 0) > 0, `some ${code} errors`);
  });
});
