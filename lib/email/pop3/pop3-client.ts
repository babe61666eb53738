/**
 * A small POP3 client (RFC 1939, CAPA/RESP-CODES RFC 2449, STLS RFC 2595, RFC 3206 codes).
 *
 * No maintained, sound POP3 package exists on npm, so this is ours. It is written to survive hostile
 * or broken servers: every reply is bounded in length and time, every socket error is caught, and
 * every failure reaches the caller as a MailError. One command at a time (no pipelining), so any byte
 * the server sends while no reply is expected is a protocol violation and ends the session.
 *
 * The wire handling is split into pure pieces (status line, reply parser, listings, APOP digest) that
 * are tested and fuzzed on their own in pop3-client.test.ts.
 */
import { createHash } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { describeImapError } from "@/lib/email/mail-socket/socket-errors";
import { MailError } from "@/lib/email/provider";

// ---------------------------------------------------------------------------------------------
// Pure wire handling
// ---------------------------------------------------------------------------------------------

export type Pop3Limits = {
  /** Longest status or listing line, terminator included. RFC 2449 says 512; real servers' texts run longer. */
  maxLineBytes: number;
  /** Largest multi-line answer to CAPA, UIDL or LIST. */
  maxListingBytes: number;
  /** Largest message RETR may return (after dot-unstuffing). */
  maxMessageBytes: number;
};

export const DEFAULT_POP3_LIMITS: Pop3Limits = {
  maxLineBytes: 8192,
  maxListingBytes: 64 * 1024 * 1024,
  maxMessageBytes: 100 * 1024 * 1024,
};

/** A reply that breaks the POP3 grammar or our limits. The client turns it into MailError("protocol"). */
export class Pop3WireError extends Error {
  override name = "Pop3WireError";
}

export type Pop3Status = {
  ok: boolean;
  /** Text after the status indicator, response code included; control characters replaced. */
  text: string;
  /** RFC 2449 response code without brackets, upper-cased: "AUTH", "IN-USE", "SYS/TEMP"... */
  code: string | null;
};

export type Pop3Reply = Pop3Status & {
  /** Multi-line data, dot-unstuffed, every line with its original terminator; null for single-line replies and -ERR. */
  body: Buffer | null;
};

/** "single": one status line. "listing": multi-line on +OK, line-limited (CAPA, UIDL, LIST). "message": multi-line on +OK (RETR). */
export type Pop3ReplyKind = "single" | "listing" | "message";

const STATUS_RE = /^(\+OK|-ERR)(?:[ \t](.*))?$/i;
const CODE_RE = /^\[([\x21-\x5c\x5e-\x7e]{1,64})\]/;

/** Parses a status line (terminator already removed). Accepts +OK / -ERR in any case; anything else throws. */
export function parseStatusLine(line: string): Pop3Status {
  const m = STATUS_RE.exec(line);
  if (!m || m[1] === undefined) throw new Pop3WireError(`not a POP3 status line: ${JSON.stringify(line.slice(0, 80))}`);
  const ok = m[1].toUpperCase() === "+OK";
  // eslint-disable-next-line no-control-regex
  const text = (m[2] ?? "").replace(/[\x00-\x08\x0a-\x1f\x7f]/g, "?").trim();
  const code = CODE_RE.exec(text)?.[1]?.toUpperCase() ?? null;
  return { ok, text, code };
}

/** Removes one trailing LF and then one trailing CR. */
function stripEol(line: Buffer): Buffer {
  let end = line.length;
  if (end > 0 && line[end - 1] === 0x0a) end -= 1;
  if (end > 0 && line[end - 1] === 0x0d) end -= 1;
  return line.subarray(0, end);
}

/**
 * Incremental reply reader. `expect()` before each command, then `push()` every chunk from the socket
 * until it returns the reply. Lines end at LF; the CR before it is optional for status and listing
 * lines and preserved as sent inside message data. Costs O(bytes): a line split over many chunks is
 * joined once.
 */
export class Pop3ReplyParser {
  private kind: Pop3ReplyKind | null = null;
  private status: Pop3Status | null = null;
  private lineParts: Buffer[] = [];
  private lineLength = 0;
  private bodyParts: Buffer[] = [];
  private bodyLength = 0;

  constructor(private readonly limits: Pop3Limits = DEFAULT_POP3_LIMITS) {}

  /** True while a reply is expected and not complete. */
  get expecting(): boolean {
    return this.kind !== null;
  }

  /** Starts reading the reply to the command about to be sent (or the greeting). */
  expect(kind: Pop3ReplyKind): void {
    if (this.kind !== null) throw new Pop3WireError("a reply is already expected");
    this.kind = kind;
    this.status = null;
    this.lineParts = [];
    this.lineLength = 0;
    this.bodyParts = [];
    this.bodyLength = 0;
  }

  /**
   * Feeds bytes from the server; returns the reply once this chunk completes it. Throws Pop3WireError
   * on a malformed or oversized reply and on any byte that arrives while no reply is expected
   * (including bytes after a complete reply in the same chunk). After a throw the parser is unusable.
   */
  push(chunk: Buffer): Pop3Reply | null {
    let reply: Pop3Reply | null = null;
    let start = 0;
    while (start < chunk.length) {
      if (reply !== null || this.kind === null) {
        this.kind = null;
        throw new Pop3WireError("the server sent data that no command asked for");
      }
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline + 1;
      this.lineLength += end - start;
      if (this.lineLength > this.lineLimit()) {
        const what = this.status !== null && this.kind === "message" ? "message too large" : "reply line too long";
        this.kind = null;
        throw new Pop3WireError(what);
      }
      this.lineParts.push(chunk.subarray(start, end));
      start = end;
      if (newline === -1) break;
      const line = this.lineParts.length === 1 ? (this.lineParts[0] as Buffer) : Buffer.concat(this.lineParts, this.lineLength);
      this.lineParts = [];
      this.lineLength = 0;
      reply = this.onLine(line);
    }
    return reply;
  }

  private lineLimit(): number {
    if (this.status === null || this.kind !== "message") return this.limits.maxLineBytes;
    // Message lines may be long (HTML mail without line breaks); the message as a whole is bounded.
    return this.limits.maxMessageBytes - this.bodyLength + 3;
  }

  private onLine(line: Buffer): Pop3Reply | null {
    if (this.status === null) {
      const status = parseStatusLine(stripEol(line).toString("latin1"));
      if (!status.ok || this.kind === "single") {
        this.kind = null;
        return { ...status, body: null };
      }
      this.status = status;
      return null;
    }
    const content = stripEol(line);
    if (content.length === 1 && content[0] === 0x2e) {
      const body = Buffer.concat(this.bodyParts, this.bodyLength);
      const status = this.status;
      this.kind = null;
      this.status = null;
      this.bodyParts = [];
      this.bodyLength = 0;
      return { ...status, body };
    }
    // Byte-stuffing (RFC 1939 §3): a line starting with "." was sent with one more ".".
    const data = line[0] === 0x2e ? line.subarray(1) : line;
    this.bodyLength += data.length;
    const max = this.kind === "message" ? this.limits.maxMessageBytes : this.limits.maxListingBytes;
    if (this.bodyLength > max) {
      const what = this.kind === "message" ? "message too large" : "listing too large";
      this.kind = null;
      throw new Pop3WireError(what);
    }
    this.bodyParts.push(data);
    return null;
  }
}

/** The lines of a listing body, terminators removed. */
export function listingLines(body: Buffer): string[] {
  if (body.length === 0) return [];
  const lines = body.toString("latin1").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}

export type UidlEntry = { num: number; uid: string };
export type ListEntry = { num: number; size: number };

/** Message numbers are 1-based; bounded so they stay exact integers. */
const MAX_MESSAGE_NUMBER = 2 ** 31 - 1;
/** RFC 1939 allows 1-70 characters 0x21-0x7E; some servers send longer ones, so accept up to 255. */
const UIDL_RE = /^([1-9][0-9]{0,9})[ \t]+([\x21-\x7e]{1,255})[ \t]*$/;
const LIST_RE = /^([1-9][0-9]{0,9})[ \t]+([0-9]{1,15})(?:[ \t].*)?$/;

function messageNumber(text: string, seen: Set<number>, what: string): number {
  const num = Number(text);
  if (num > MAX_MESSAGE_NUMBER) throw new Pop3WireError(`${what}: message number out of range`);
  if (seen.has(num)) throw new Pop3WireError(`${what}: message number ${num} listed twice`);
  seen.add(num);
  return num;
}

/** Parses a UIDL listing ("n uid" per line). Any malformed line or repeated number throws. Sorted by number. */
export function parseUidlListing(body: Buffer): UidlEntry[] {
  const seen = new Set<number>();
  const out: UidlEntry[] = [];
  for (const line of listingLines(body)) {
    const m = UIDL_RE.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined) throw new Pop3WireError(`invalid UIDL line: ${JSON.stringify(line.slice(0, 80))}`);
    out.push({ num: messageNumber(m[1], seen, "UIDL"), uid: m[2] });
  }
  return out.sort((a, b) => a.num - b.num);
}

/** Parses a LIST scan listing ("n size" per line). Sorted by number. */
export function parseListListing(body: Buffer): ListEntry[] {
  const seen = new Set<number>();
  const out: ListEntry[] = [];
  for (const line of listingLines(body)) {
    const m = LIST_RE.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined) throw new Pop3WireError(`invalid LIST line: ${JSON.stringify(line.slice(0, 80))}`);
    out.push({ num: messageNumber(m[1], seen, "LIST"), size: Number(m[2]) });
  }
  return out.sort((a, b) => a.num - b.num);
}

/** CAPA lines, trimmed, empty ones dropped (at most 256: a sane server has a dozen). */
export function parseCapabilities(body: Buffer): string[] {
  const lines = listingLines(body)
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length > 256) throw new Pop3WireError("too many capabilities");
  return lines;
}

/** True if a capability line's first word is `name` (case-insensitive). */
export function hasCapability(capabilities: readonly string[] | null, name: string): boolean {
  const wanted = name.toUpperCase();
  return (capabilities ?? []).some((c) => c.split(/[ \t]+/)[0]?.toUpperCase() === wanted);
}

/** Seconds from a "LOGIN-DELAY n" capability, if any. */
export function loginDelaySeconds(capabilities: readonly string[] | null): number | null {
  for (const c of capabilities ?? []) {
    const m = /^LOGIN-DELAY[ \t]+([0-9]{1,7})\b/i.exec(c);
    if (m?.[1]) return Number(m[1]);
  }
  return null;
}

/** The APOP timestamp (RFC 1939 §7) in a greeting: "<...@...>", brackets included; null if none. */
export function parseApopTimestamp(greetingText: string): string | null {
  return /<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>/.exec(greetingText)?.[0] ?? null;
}

/** APOP digest: lower-case hex MD5 of timestamp + shared secret. */
export function apopDigest(timestamp: string, secret: string): string {
  return createHash("md5").update(Buffer.from(timestamp + secret, "utf8")).digest("hex");
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

type Where = { host: string; port: number };

function at(where: Where): string {
  return `${where.host}:${where.port}`;
}

/** Any failure of the client in words an admin can act on; MailErrors pass through unchanged. */
export function describePop3Error(err: unknown, where: Where): MailError {
  if (err instanceof MailError) return err;
  if (err instanceof Pop3WireError) {
    return new MailError("protocol", `The server at ${at(where)} sent a reply that is not valid POP3.`, { cause: err });
  }
  return describeImapError(err, where);
}

/**
 * -ERR to USER, PASS or APOP. RFC 3206: [AUTH] or no code means the credentials; [IN-USE],
 * [LOGIN-DELAY] and [SYS/...] mean the login may work later and must not look like a wrong password.
 */
export function loginError(reply: Pop3Status, where: Where, loginDelay: number | null): MailError {
  const cause = new Error(`POP3 login refused: ${reply.text}`);
  switch (reply.code) {
    case "IN-USE":
      return new MailError("network", `The mailbox at ${at(where)} is in use by another POP3 session; retrying later.`, { cause });
    case "LOGIN-DELAY":
      return new MailError("rate_limited", `The server at ${at(where)} asks to wait before logging in again.`, {
        cause,
        retryAfterMs: (loginDelay ?? 300) * 1000,
      });
    case "SYS/TEMP":
      return new MailError("network", `The server at ${at(where)} reported a temporary problem; retrying later.`, { cause });
    case "SYS/PERM":
      return new MailError("unknown", `The server at ${at(where)} reported a problem with this mailbox.`, { cause });
    default:
      return new MailError("auth", "The server rejected the username or password.", { cause });
  }
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

export type Pop3ClientOptions = {
  /** The host as configured: named in errors, and the TLS name unless `servername` says otherwise. */
  host: string;
  /** The checked address to connect to (resolveMailHost); without it `host` is connected to. */
  address?: string;
  /** TLS SNI and certificate name when connecting by address. */
  servername?: string;
  port: number;
  /**
   * "implicit": TLS from the first byte (995). "starttls": STLS required; a server that does not
   * offer it fails the connection (a man in the middle can strip the offer). "none": plaintext,
   * only when the admin chose it.
   */
  tls: "implicit" | "starttls" | "none";
  tlsOptions?: { rejectUnauthorized?: boolean; ca?: string };
  /** TCP connect, TLS, greeting, CAPA and the STLS upgrade together. */
  connectTimeoutMs: number;
  /** Longest silence while a reply is expected. */
  idleTimeoutMs: number;
  /** Longest time one reply may take even while bytes keep trickling in. Default 10 minutes. */
  replyTimeoutMs?: number;
  limits?: Partial<Pop3Limits>;
};

type Waiter = { resolve: (reply: Pop3Reply) => void; reject: (err: MailError) => void; touch: () => void; clear: () => void };

/** Initial delay of TCP keepalive probes on every POP3 socket. */
export const POP3_KEEPALIVE_MS = 30_000;

function hasLineBreak(value: string): boolean {
  return /[\r\n\0]/.test(value);
}

export class Pop3Client {
  /** Greeting text after "+OK". */
  greeting = "";
  apopTimestamp: string | null = null;
  /** CAPA lines, or null if the server does not support CAPA. */
  capabilities: string[] | null = null;
  /** True once the session runs over TLS (implicit or STLS). */
  secure = false;

  private socket: net.Socket | null = null;
  /** Every socket of this session (the plain one stays under TLS after STLS). */
  private readonly sockets: net.Socket[] = [];
  private readonly parser: Pop3ReplyParser;
  private waiter: Waiter | null = null;
  private opening: { reject: (err: MailError) => void } | null = null;
  private failure: MailError | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private inFlight = 0;
  private readonly where: Where;
  private readonly onData = (chunk: Buffer): void => this.handleData(chunk);
  private readonly onError = (err: Error): void => this.fail(describePop3Error(err, this.where));
  private readonly onClose = (): void =>
    this.fail(new MailError("network", `The connection to ${at(this.where)} was closed by the server.`));

  private constructor(private readonly opts: Pop3ClientOptions) {
    this.parser = new Pop3ReplyParser({ ...DEFAULT_POP3_LIMITS, ...opts.limits });
    this.where = { host: opts.host, port: opts.port };
  }

  /** Connects, reads the greeting, asks CAPA and upgrades with STLS when configured. Throws MailError. */
  static async connect(opts: Pop3ClientOptions): Promise<Pop3Client> {
    const client = new Pop3Client(opts);
    try {
      await client.open();
      return client;
    } catch (err) {
      client.close();
      throw describePop3Error(err, client.where);
    }
  }

  /** True until the connection fails or is closed. */
  get isOpen(): boolean {
    return this.failure === null && this.socket !== null;
  }

  /** True while a command is queued or waiting for its reply. */
  get isBusy(): boolean {
    return this.inFlight > 0;
  }

  private timeoutError(what: string, ms: number): MailError {
    return new MailError("timeout", `The mail server at ${at(this.where)} did not answer in time.`, {
      cause: new Error(`POP3 ${what} timed out after ${ms} ms`),
    });
  }

  private async open(): Promise<void> {
    const ms = this.opts.connectTimeoutMs;
    const timer = setTimeout(() => this.fail(this.timeoutError("connect", ms)), ms);
    try {
      const tlsOptions = this.tlsConnectOptions();
      const implicit = this.opts.tls === "implicit";
      const host = this.opts.address ?? this.opts.host;
      const socket = implicit
        ? tls.connect({ host, port: this.opts.port, ...tlsOptions })
        : net.connect({ host, port: this.opts.port });
      // TCP keepalive notices a flow a NAT or firewall really dropped (RST after the probes); a
      // frozen path that still ACKs is caught by the reply timeouts in exchange() instead.
      socket.setKeepAlive(true, POP3_KEEPALIVE_MS);
      this.attach(socket);
      // Expect the greeting before the socket can deliver it: it may arrive in the same tick as the handshake.
      const greetingReply = this.exchange(null, "single", this.opts.connectTimeoutMs);
      greetingReply.catch(() => undefined);
      await this.waitFor(socket, implicit ? "secureConnect" : "connect");
      this.secure = implicit;
      const greeting = await greetingReply;
      if (!greeting.ok) {
        throw new MailError("network", `The server at ${at(this.where)} refused the POP3 session.`, {
          cause: new Error(`POP3 greeting: ${greeting.text}`),
        });
      }
      this.greeting = greeting.text;
      this.apopTimestamp = parseApopTimestamp(greeting.text);
      this.capabilities = await this.capa();
      if (this.opts.tls === "starttls") {
        // Required, never opportunistic: the capability list arrived in clear, so its lack of STLS
        // may be an attacker's doing, and USER/PASS must not follow in clear.
        if (!hasCapability(this.capabilities, "STLS")) {
          throw new MailError(
            "tls",
            `The server at ${at(this.where)} does not offer STARTTLS (STLS), so the password would cross the network unencrypted. Use implicit TLS (usually port 995), or choose "no encryption" only if you accept that.`,
          );
        }
        await this.startTls(tlsOptions);
        // RFC 2595 §4: capabilities learnt before the upgrade must be forgotten.
        this.capabilities = await this.capa();
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private tlsConnectOptions(): tls.ConnectionOptions {
    return {
      rejectUnauthorized: this.opts.tlsOptions?.rejectUnauthorized ?? true,
      ...(this.opts.tlsOptions?.ca ? { ca: [...tls.rootCertificates, this.opts.tlsOptions.ca] } : {}),
      // SNI must be a host name (RFC 6066); for an IP the certificate is checked against IP SANs.
      // Node checks the certificate against `servername` when given, so connecting by address
      // still verifies the name the admin typed.
      ...(this.opts.servername
        ? { servername: this.opts.servername }
        : net.isIP(this.opts.host.replace(/^\[|\]$/g, ""))
          ? {}
          : { servername: this.opts.host }),
    };
  }

  private async startTls(tlsOptions: tls.ConnectionOptions): Promise<void> {
    const reply = await this.exchange("STLS", "single");
    if (!reply.ok) {
      throw new MailError("tls", `The server at ${at(this.where)} offered STLS but refused to start TLS.`, {
        cause: new Error(`STLS: ${reply.text}`),
      });
    }
    const raw = this.socket;
    if (!raw || this.failure) throw this.failure ?? new MailError("network", "The POP3 connection is closed.");
    // The plain socket keeps its error/close handlers; only its bytes now belong to TLS.
    raw.removeListener("data", this.onData);
    const secure = tls.connect({ socket: raw, ...tlsOptions });
    this.attach(secure);
    await this.waitFor(secure, "secureConnect");
    this.secure = true;
  }

  private attach(socket: net.Socket): void {
    this.socket = socket;
    this.sockets.push(socket);
    socket.on("data", this.onData);
    socket.on("error", this.onError);
    socket.on("close", this.onClose);
  }

  private waitFor(socket: net.Socket, event: "connect" | "secureConnect"): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.opening = { reject };
      socket.once(event, () => {
        this.opening = null;
        if (this.failure) reject(this.failure);
        else resolve();
      });
    });
  }

  private handleData(chunk: Buffer): void {
    if (this.failure) return;
    try {
      this.waiter?.touch();
      const reply = this.parser.push(chunk);
      if (reply) {
        const waiter = this.waiter;
        this.waiter = null;
        waiter?.clear();
        waiter?.resolve(reply);
      }
    } catch (err) {
      this.fail(describePop3Error(err, this.where));
    }
  }

  /** Ends the connection for good and rejects whatever waits on it. Idempotent. */
  private fail(err: MailError): void {
    if (this.failure) return;
    this.failure = err;
    for (const socket of this.sockets) socket.destroy();
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.clear();
    waiter?.reject(err);
    const opening = this.opening;
    this.opening = null;
    opening?.reject(err);
  }

  /** Sends one command (or none, for the greeting) and reads its reply, with idle and total timeouts. */
  private exchange(command: string | null, kind: Pop3ReplyKind, idleMs = this.opts.idleTimeoutMs): Promise<Pop3Reply> {
    return new Promise<Pop3Reply>((resolve, reject) => {
      if (this.failure || !this.socket) {
        reject(this.failure ?? new MailError("network", "The POP3 connection is closed."));
        return;
      }
      const totalMs = this.opts.replyTimeoutMs ?? 10 * 60_000;
      const idle = setTimeout(() => this.fail(this.timeoutError("reply", idleMs)), idleMs);
      const total = setTimeout(() => this.fail(this.timeoutError("reply", totalMs)), totalMs);
      this.waiter = {
        resolve,
        reject,
        touch: () => void idle.refresh(),
        clear: () => {
          clearTimeout(idle);
          clearTimeout(total);
        },
      };
      try {
        this.parser.expect(kind);
      } catch (err) {
        this.fail(describePop3Error(err, this.where));
        return;
      }
      if (command !== null) this.socket.write(`${command}\r\n`);
    });
  }

  /** Runs commands one after another, whatever the caller does. */
  private command(command: string, kind: Pop3ReplyKind): Promise<Pop3Reply> {
    this.inFlight += 1;
    const run = (): Promise<Pop3Reply> => this.exchange(command, kind);
    const result = this.chain.then(run, run).finally(() => {
      this.inFlight -= 1;
    });
    this.chain = result.catch(() => undefined);
    return result;
  }

  /** Parses a reply body; a parse error ends the session (its state is no longer known). */
  private parseBody<T>(reply: Pop3Reply, parse: (body: Buffer) => T): T {
    try {
      return parse(reply.body ?? Buffer.alloc(0));
    } catch (err) {
      const mailError = describePop3Error(err, this.where);
      this.fail(mailError);
      throw mailError;
    }
  }

  private checkArgument(value: string, what: string): void {
    if (hasLineBreak(value)) throw new MailError("config", `The ${what} contains a line break, which POP3 cannot send.`);
  }

  private checkNumber(num: number): void {
    if (!Number.isInteger(num) || num < 1 || num > MAX_MESSAGE_NUMBER) {
      throw new MailError("protocol", `Invalid POP3 message number: ${num}.`);
    }
  }

  /** CAPA (RFC 2449); null when the server does not support it. */
  async capa(): Promise<string[] | null> {
    const reply = await this.command("CAPA", "listing");
    if (!reply.ok) return null;
    return this.parseBody(reply, parseCapabilities);
  }

  /** USER/PASS, or APOP (needs the greeting's timestamp). Throws MailError "auth" on bad credentials. */
  async login(user: string, pass: string, method: "user" | "apop" = "user"): Promise<void> {
    this.checkArgument(user, "username");
    this.checkArgument(pass, "password");
    // Second line of defence behind open(): credentials go in clear only when the admin chose "none".
    if (!this.secure && this.opts.tls !== "none") {
      throw new MailError("tls", `The connection to ${at(this.where)} is not encrypted; the password was not sent.`);
    }
    const delay = loginDelaySeconds(this.capabilities);
    if (method === "apop") {
      if (!this.apopTimestamp) throw new MailError("config", `The server at ${at(this.where)} does not offer APOP.`);
      if (/[ \t]/.test(user)) throw new MailError("config", "APOP cannot send a username that contains spaces.");
      const reply = await this.command(`APOP ${user} ${apopDigest(this.apopTimestamp, pass)}`, "single");
      if (!reply.ok) throw loginError(reply, this.where, delay);
      return;
    }
    const userReply = await this.command(`USER ${user}`, "single");
    if (!userReply.ok) throw loginError(userReply, this.where, delay);
    const passReply = await this.command(`PASS ${pass}`, "single");
    if (!passReply.ok) throw loginError(passReply, this.where, delay);
  }

  /** UIDL of every message not marked deleted, by message number. */
  async uidl(): Promise<UidlEntry[]> {
    const reply = await this.command("UIDL", "listing");
    if (!reply.ok) {
      throw new MailError(
        "protocol",
        `The POP3 server at ${at(this.where)} does not support UIDL, which is needed to tell new messages from stored ones.`,
        { cause: new Error(`UIDL: ${reply.text}`) },
      );
    }
    return this.parseBody(reply, parseUidlListing);
  }

  /** LIST: sizes of every message not marked deleted. */
  async list(): Promise<ListEntry[]> {
    const reply = await this.command("LIST", "listing");
    if (!reply.ok) throw new MailError("protocol", `The POP3 server at ${at(this.where)} refused LIST.`, { cause: new Error(reply.text) });
    return this.parseBody(reply, parseListListing);
  }

  /** The message's raw source (dot-unstuffed, line endings as sent), or null if the server answers -ERR (e.g. gone). */
  async retr(num: number): Promise<Buffer | null> {
    this.checkNumber(num);
    const reply = await this.command(`RETR ${num}`, "message");
    return reply.ok ? reply.body : null;
  }

  /**
   * TOP n 0 (RFC 1939): the message's header block and no body lines, or null on -ERR (gone, or a
   * server without TOP). Used for the start date and for too-large messages, never fetched whole.
   */
  async top(num: number, lines = 0): Promise<Buffer | null> {
    this.checkNumber(num);
    const reply = await this.command(`TOP ${num} ${Math.max(0, Math.floor(lines))}`, "message");
    return reply.ok ? reply.body : null;
  }

  /** Marks a message deleted; it is removed only when QUIT succeeds. False if the server refuses. */
  async dele(num: number): Promise<boolean> {
    this.checkNumber(num);
    return (await this.command(`DELE ${num}`, "single")).ok;
  }

  /** Unmarks messages marked deleted in this session. */
  async rset(): Promise<void> {
    const reply = await this.command("RSET", "single");
    if (!reply.ok) throw new MailError("protocol", `The POP3 server at ${at(this.where)} refused RSET.`, { cause: new Error(reply.text) });
  }

  async noop(): Promise<void> {
    const reply = await this.command("NOOP", "single");
    if (!reply.ok) throw new MailError("protocol", `The POP3 server at ${at(this.where)} refused NOOP.`, { cause: new Error(reply.text) });
  }

  /**
   * QUIT: the server commits deletions (UPDATE state) and closes. Throws if the server reports that
   * the update failed. The connection is closed afterwards in every case.
   */
  async quit(): Promise<void> {
    try {
      const reply = await this.command("QUIT", "single");
      if (!reply.ok) {
        throw new MailError("protocol", `The POP3 server at ${at(this.where)} could not complete the session (deletions not applied).`, {
          cause: new Error(`QUIT: ${reply.text}`),
        });
      }
    } finally {
      this.close();
    }
  }

  /** Drops the connection without QUIT: nothing marked deleted in this session is removed. Never throws. */
  close(): void {
    this.fail(new MailError("network", "The POP3 connection is closed."));
  }
}
