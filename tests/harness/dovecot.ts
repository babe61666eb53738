/**
 * Test harness: a private, throw-away Dovecot (IMAP + POP3) instance per test suite.
 *
 * Every instance lives in its own temp dir (config, passwd-file, maildirs, logs, runtime sockets)
 * and listens on its own free ports on 127.0.0.1, so suites can run in parallel with each other
 * and with any system Dovecot. Recipes behind the settings: /work/shared/TESTING.md.
 *
 * Needs root (Dovecot's master drops privileges to `nobody` for mail access) and the Debian
 * packages `dovecot-imapd` + `dovecot-pop3d` (see scripts/install-test-deps.sh).
 */
import { spawn, execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { appendFile, chmod, chown, mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { ImapFlow } from "imapflow";

const execFileAsync = promisify(execFile);

const HOST = "127.0.0.1" as const;
const DOVECOT_BIN = "/usr/sbin/dovecot";
const DOVEADM_BIN = existsSync("/usr/bin/doveadm") ? "/usr/bin/doveadm" : "doveadm";
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;
/** Mail is stored as this user/group (the static userdb); the mail root must belong to it. */
const MAIL_USER = "nobody";
const MAIL_GROUP = "nogroup";

export interface DovecotUser {
  name: string;
  password: string;
}

export interface StartDovecotOptions {
  /** Users created before start-up (more can be added later with `addUser`). */
  users?: DovecotUser[];
  /** Self-signed TLS: IMAPS/POP3S listeners on their own ports plus STARTTLS on the plain ones. */
  tls?: boolean;
  /** RFC 7662 introspection endpoint; enables XOAUTH2/OAUTHBEARER via Dovecot's oauth2 passdb. */
  oauth2IntrospectionUrl?: string;
  /** Raise process/client/connection limits (and inotify limits) for capacity tests. */
  tuneForManyClients?: boolean;
  /** Listen on [::1] too (same ports), for IPv6-literal tests. */
  ipv6Loopback?: boolean;
}

export interface MessageSummary {
  uid: number;
  seen: boolean;
  size: number;
}

export interface AppendOptions {
  /** Target folder (created if missing); defaults to INBOX. */
  folder?: string;
  /** IMAP flags, e.g. ["\\Seen"]. */
  flags?: string[];
}

export interface DovecotInstance {
  host: typeof HOST;
  imapPort: number;
  imapsPort?: number;
  pop3Port: number;
  pop3sPort?: number;
  /** Instance dir (config, users, mail, dovecot.log); removed by `stop()`. */
  dir: string;
  /** PEM of the self-signed server certificate (only with `tls: true`); pass as `tls.ca`. */
  caCertPem?: string;
  /** Adds a passwd-file user; resolves once Dovecot is guaranteed to see it (up to ~1 s). */
  addUser(name: string, password: string): Promise<void>;
  /** Changes a user's password (new logins only; open sessions stay); resolves once Dovecot sees it. */
  setPassword(name: string, password: string): Promise<void>;
  /** APPENDs a raw RFC 5322 message as `user` over IMAP (a separate, short-lived connection). */
  append(user: string, raw: string | Buffer, opts?: AppendOptions): Promise<void>;
  /** Many APPENDs in one session (a backlog of hundreds in seconds), in order. */
  appendMany(user: string, raws: readonly (string | Buffer)[], opts?: AppendOptions): Promise<void>;
  /** Another client reads these messages (STORE +FLAGS \Seen by UID). */
  markSeen(user: string, uids: readonly number[], folder?: string): Promise<void>;
  createFolder(user: string, folder: string): Promise<void>;
  /** Runs `fn` with a logged-in IMAP client of `user` (another mail program), always closed afterwards. */
  withImap<T>(user: string, fn: (client: ImapFlow) => Promise<T>): Promise<T>;
  messages(user: string, folder?: string): Promise<MessageSummary[]>;
  /** Stops and starts Dovecot again on the same ports, keeping users and mail. */
  restart(): Promise<void>;
  /** Stops Dovecot, waits until the IMAP port is closed and removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

interface Ports {
  imap: number;
  pop3: number;
  imaps?: number;
  pop3s?: number;
}

interface Layout {
  dir: string;
  confPath: string;
  usersPath: string;
  mailDir: string;
  runDir: string;
  stateDir: string;
  logPath: string;
  stderrPath: string;
  certPath: string;
  keyPath: string;
  oauth2ConfPath: string;
}

/**
 * Instances still running in this process. A test that throws before calling stop() would
 * otherwise leave a daemonized Dovecot (and its temp dir) behind after the test process exits.
 */
const liveInstances = new Map<string, Layout>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const layout of liveInstances.values()) {
      // Only synchronous work is possible here: signal the master directly (doveadm stop would
      // block for seconds) and remove what we can.
      const pid = readMasterPidSync(layout);
      if (pid !== undefined) signalProcess(pid, "SIGTERM");
      rmSync(layout.dir, { recursive: true, force: true, maxRetries: 3 });
    }
    liveInstances.clear();
  });
}

function readMasterPidSync(layout: Layout): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path.join(layout.runDir, "master.pid"), "utf8").trim(), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Reserves `count` distinct free ports. All probe servers stay open until every port is known,
 * so the kernel cannot hand out the same port twice within one call.
 */
async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, HOST, () => resolve());
      });
      const address = server.address();
      if (address === null || typeof address === "string") throw new Error("unexpected server address");
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

async function allocatePorts(tls: boolean): Promise<Ports> {
  const [imap, pop3, imaps, pop3s] = await freePorts(tls ? 4 : 2);
  if (imap === undefined || pop3 === undefined) throw new Error("could not allocate ports");
  return tls ? { imap, pop3, imaps, pop3s } : { imap, pop3 };
}

/** Looks a name up in an /etc/passwd-style file; Debian's nobody/nogroup are 65534. */
async function lookupId(file: string, name: string): Promise<number> {
  try {
    const text = await readFile(file, "utf8");
    for (const line of text.split("\n")) {
      const fields = line.split(":");
      if (fields[0] === name && fields[2] !== undefined) return Number.parseInt(fields[2], 10);
    }
  } catch {
    // fall through to the Debian default
  }
  return 65534;
}

function assertValidUser(name: string, password: string): void {
  // The name becomes a path component (home=.../mail/%u) and a passwd-file field; the password
  // is a passwd-file field too, and that format has no escaping for ':' or newlines.
  if (!/^[A-Za-z0-9._@+-]+$/.test(name) || name.startsWith(".")) {
    throw new Error(`invalid Dovecot test user name: ${JSON.stringify(name)}`);
  }
  if (/[:\r\n]/.test(password)) {
    throw new Error("Dovecot test passwords may not contain ':' or line breaks");
  }
}

function passwdLine(user: DovecotUser): string {
  return `${user.name}:{PLAIN}${user.password}::::::\n`;
}

function buildConfig(layout: Layout, ports: Ports, opts: StartDovecotOptions, instanceName: string): string {
  const tls = opts.tls === true;
  const oauth = opts.oauth2IntrospectionUrl !== undefined;
  const lines: string[] = [
    "# Generated by tests/harness/dovecot.ts - private test instance, do not edit.",
    `base_dir = ${layout.runDir}`,
    `state_dir = ${layout.stateDir}`,
    // The instance name shows up in process titles (dovecot-<name>/imap-login) and keeps
    // doveadm from confusing this instance with another one.
    `instance_name = ${instanceName}`,
    `log_path = ${layout.logPath}`,
    "protocols = imap pop3",
    `listen = ${HOST}${opts.ipv6Loopback ? ", ::1" : ""}`,
    // Tests log in with plain passwords over cleartext connections.
    "disable_plaintext_auth = no",
    // Default is 2 s per failed login, which makes negative tests slow.
    "auth_failure_delay = 0",

    `auth_mechanisms = plain login${oauth ? " xoauth2 oauthbearer" : ""}`,
  ];
  if (tls) {
    lines.push("ssl = yes", `ssl_cert = <${layout.certPath}`, `ssl_key = <${layout.keyPath}`);
  } else {
    lines.push("ssl = no");
  }
  lines.push(
    "passdb {",
    "  driver = passwd-file",
    `  args = scheme=PLAIN username_format=%u ${layout.usersPath}`,
    // With OAuth enabled, passwords must not be tried against tokens and vice versa.
    ...(oauth ? ["  mechanisms = plain login"] : []),
    "}",
  );
  if (oauth) {
    lines.push(
      "passdb {",
      "  driver = oauth2",
      "  mechanisms = xoauth2 oauthbearer",
      `  args = ${layout.oauth2ConfPath}`,
      "}",
    );
  }
  lines.push(
    "userdb {",
    "  driver = static",
    `  args = uid=${MAIL_USER} gid=${MAIL_GROUP} home=${layout.mailDir}/%u`,
    "}",
    "mail_location = maildir:~/Maildir",
  );
  if (opts.tuneForManyClients === true) {
    lines.push(
      // Applies to every service without its own limit (anvil, auth, stats...), which all get
      // at least one connection per imap/login process under load.
      "default_client_limit = 10000",
      "default_process_limit = 1024",
      // All test clients come from 127.0.0.1, often as the same user; default is 10.
      "mail_max_userip_connections = 10000",
      // One imap process per connection (Dovecot's default service_count = 1), up to 1024.
      // Not client_limit = 4096 + service_count = 0: Dovecot 2.3 accepts that, but an imap
      // process serving several IDLE connections of the same user notifies only one of them
      // (its inotify watches are per process and per path) - measured: 2 of 10 clients of 2
      // users saw EXISTS. That would silently corrupt capacity/latency tests. With
      // service_count = 1 Dovecot caps client_limit at 1 anyway, so say so explicitly.
      "service imap {",
      "  process_limit = 1024",
      "  client_limit = 1",
      "}",
    );
  }
  lines.push(
    // Disables the anvil auth penalty (documented switch: the auth process cannot open the
    // socket). Otherwise every failed login from 127.0.0.1 delays all following logins from
    // there by 2 s, doubling up to 15 s - including logins of unrelated tests.
    "service anvil {",
    "  unix_listener anvil-auth-penalty {",
    "    mode = 0",
    "  }",
    "}",
  );
  // Each inet_listener needs its settings on separate lines: Dovecot rejects `{ port = N }`.
  lines.push("service imap-login {");
  if (opts.tuneForManyClients === true) {
    lines.push(
      // High-performance mode: long-lived login processes each handling many connections
      // (TLS connections stay proxied through them), instead of one process per connection.
      "  service_count = 0",
      "  client_limit = 10000",
      "  process_min_avail = 4",
      "  process_limit = 64",
    );
  }
  lines.push(
    "  inet_listener imap {",
    `    port = ${ports.imap}`,
    "  }",
    "  inet_listener imaps {",
    // Port 0 disables the listener; without the block Dovecot would bind the default 993.
    `    port = ${ports.imaps ?? 0}`,
    ...(tls ? ["    ssl = yes"] : []),
    "  }",
    "}",
    "service pop3-login {",
    "  inet_listener pop3 {",
    `    port = ${ports.pop3}`,
    "  }",
    "  inet_listener pop3s {",
    `    port = ${ports.pop3s ?? 0}`,
    ...(tls ? ["    ssl = yes"] : []),
    "  }",
    "}",
    "",
  );
  return lines.join("\n");
}

function buildOauth2Config(url: string): string {
  // Dovecot POSTs `token=...` form-encoded and expects an RFC 7662 answer
  // ({"active": true, "username": "..."}).
  return [
    "introspection_mode = post",
    `introspection_url = ${url}`,
    "username_attribute = username",
    "active_attribute = active",
    "active_value = true",
    "",
  ].join("\n");
}

async function generateCertificate(layout: Layout): Promise<string> {
  await execFileAsync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
    // Clients connect to 127.0.0.1, so the IP SAN is what makes hostname verification pass.
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-keyout",
    layout.keyPath,
    "-out",
    layout.certPath,
  ]);
  await chmod(layout.keyPath, 0o600);
  return readFile(layout.certPath, "utf8");
}

/** Reads the first line a server sends; rejects on connection errors, EOF or timeout. */
function readGreeting(port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    let buffer = "";
    const done = (err: Error | null, line?: string): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(line ?? "");
    };
    const timer = setTimeout(() => done(new Error(`no greeting on port ${port} within ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      const eol = buffer.indexOf("\n");
      if (eol !== -1) done(null, buffer.slice(0, eol).replace(/\r$/, ""));
    });
    socket.once("error", (err) => done(err));
    socket.once("end", () => done(new Error(`port ${port} closed before greeting`)));
  });
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * True once the process has exited. A zombie counts as exited: the daemonized master is
 * re-parented to PID 1, which on these machines reaps late, so `kill(pid, 0)` keeps succeeding.
 */
async function isProcessGone(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Format: "pid (comm) state ..."; comm may contain spaces/parens, so split at the last ')'.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "Z" || state === "X";
  } catch {
    return true;
  }
}

/** Resolves true if something accepts TCP connections on the port. */
function isPortOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    const finish = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(1000, () => finish(true));
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
  });
}

async function waitForImapGreeting(port: number, logPath: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const line = await readGreeting(port, Math.max(500, deadline - Date.now()));
      if (line.startsWith("* OK")) return;
      lastError = new Error(`unexpected IMAP greeting: ${line}`);
    } catch (err) {
      lastError = err;
    }
    await sleep(20);
  }
  throw new Error(
    `Dovecot did not greet on IMAP port ${port}: ${String(lastError)}\n${await readTail(logPath)}`,
  );
}

async function readTail(file: string): Promise<string> {
  try {
    const text = await readFile(file, "utf8");
    return text.split("\n").slice(-30).join("\n");
  } catch {
    return "";
  }
}

/** The instance name doubles as a unique tag; `dovecot-<name>` is also the process-title prefix. */
function newInstanceName(): string {
  return `test-${randomBytes(6).toString("hex")}`;
}

export async function startDovecot(opts: StartDovecotOptions = {}): Promise<DovecotInstance> {
  if (process.getuid?.() !== 0) {
    // Dovecot's master must start as root to switch mail processes to the static userdb's uid.
    throw new Error("the Dovecot test harness must run as root");
  }
  if (!existsSync(DOVECOT_BIN)) {
    throw new Error(`${DOVECOT_BIN} not found; run scripts/install-test-deps.sh`);
  }
  const users = opts.users ?? [];
  for (const u of users) assertValidUser(u.name, u.password);

  const dir = await mkdtemp(path.join(os.tmpdir(), "dovecot-test-"));
  // mkdtemp creates 0700; mail processes run as `nobody` and must traverse into dir/mail.
  await chmod(dir, 0o755);
  const layout: Layout = {
    dir,
    confPath: path.join(dir, "dovecot.conf"),
    usersPath: path.join(dir, "users"),
    mailDir: path.join(dir, "mail"),
    runDir: path.join(dir, "run"),
    stateDir: path.join(dir, "state"),
    logPath: path.join(dir, "dovecot.log"),
    stderrPath: path.join(dir, "dovecot.stderr"),
    certPath: path.join(dir, "cert.pem"),
    keyPath: path.join(dir, "key.pem"),
    oauth2ConfPath: path.join(dir, "dovecot-oauth2.conf.ext"),
  };

  try {
    return await createInstance(layout, opts, users);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function createInstance(
  layout: Layout,
  opts: StartDovecotOptions,
  initialUsers: DovecotUser[],
): Promise<DovecotInstance> {
  const tls = opts.tls === true;
  const passwords = new Map<string, string>();
  for (const u of initialUsers) passwords.set(u.name, u.password);

  await mkdir(layout.mailDir);
  await chown(layout.mailDir, await lookupId("/etc/passwd", MAIL_USER), await lookupId("/etc/group", MAIL_GROUP));
  await writeFile(layout.usersPath, initialUsers.map(passwdLine).join(""), { mode: 0o644 });
  if (opts.oauth2IntrospectionUrl !== undefined) {
    await writeFile(layout.oauth2ConfPath, buildOauth2Config(opts.oauth2IntrospectionUrl), { mode: 0o644 });
  }
  const caCertPem = tls ? await generateCertificate(layout) : undefined;
  if (opts.tuneForManyClients === true) await raiseInotifyLimits();

  const instanceName = newInstanceName();
  let ports = await allocatePorts(tls);
  let running = false;
  let stopped = false;

  const writeConfig = async (): Promise<void> => {
    await writeFile(layout.confPath, buildConfig(layout, ports, opts, instanceName), { mode: 0o644 });
  };

  /** Runs `dovecot -c CONF`; resolves once the IMAP port greets. */
  const launch = async (): Promise<void> => {
    // A file (not a pipe) for stdout/stderr: dovecot daemonizes and its children inherit these
    // fds, so a pipe would never reach EOF. The file keeps start-up errors (e.g. "Address
    // already in use", config errors) that happen before log_path is in effect.
    const errFile = await open(layout.stderrPath, "w");
    let code: number | null;
    try {
      const child = spawn(DOVECOT_BIN, ["-c", layout.confPath], { stdio: ["ignore", errFile.fd, errFile.fd] });
      code = await new Promise<number | null>((resolve, reject) => {
        child.once("error", reject);
        child.once("exit", (exitCode) => resolve(exitCode));
      });
    } finally {
      await errFile.close();
    }
    if (code !== 0) {
      const stderr = await readFile(layout.stderrPath, "utf8").catch(() => "");
      const err = new Error(`dovecot exited with ${code}: ${stderr.trim()}\n${await readTail(layout.logPath)}`);
      (err as Error & { addressInUse?: boolean }).addressInUse = /Address already in use/i.test(stderr);
      throw err;
    }
    running = true;
    liveInstances.set(layout.dir, layout);
    // The foreground process exits once the master has bound its listeners and forked, but the
    // login processes may still be starting: only a greeting proves clients can be served.
    try {
      await waitForImapGreeting(ports.imap, layout.logPath);
    } catch (err) {
      await shutdown();
      throw err;
    }
  };

  const shutdown = async (): Promise<void> => {
    if (!running) return;
    running = false;
    const masterPid = readMasterPidSync(layout);
    // `doveadm stop` signals the master and then polls its pid for up to 3 s. On these machines
    // PID 1 reaps orphaned processes late, so the exited master lingers as a zombie and doveadm
    // always runs into that limit. The port closing (and master.pid disappearing, which the
    // master does on a clean exit) is the real "stopped" signal, so don't wait for doveadm.
    const doveadm = spawn(DOVEADM_BIN, ["-c", layout.confPath, "stop"], { stdio: "ignore" });
    let doveadmFailed = false;
    doveadm.once("error", () => {
      doveadmFailed = true;
    });
    doveadm.once("exit", (code) => {
      if (code !== 0) doveadmFailed = true;
    });
    doveadm.unref();

    // Probe the port only once the master is gone: a connection accepted by a login process
    // that is itself shutting down hangs it for 5 s (it waits for the already-stopped
    // stats-writer), which would make every stop slow.
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    let signalled = false;
    let stoppedCleanly = false;
    while (Date.now() < deadline) {
      if (masterPid === undefined || (await isProcessGone(masterPid))) {
        if (!(await isPortOpen(ports.imap))) {
          stoppedCleanly = true;
          break;
        }
        await sleep(100);
        continue;
      }
      if (doveadmFailed && !signalled && masterPid !== undefined) {
        // Fall back to signalling the master ourselves if doveadm could not do it.
        signalled = true;
        signalProcess(masterPid, "SIGTERM");
      }
      await sleep(20);
    }
    if (!stoppedCleanly && masterPid !== undefined) {
      signalProcess(masterPid, "SIGKILL");
    }
    // A clean exit removes master.pid; after a kill a stale one would make the next start
    // refuse with "Dovecot is already running".
    await rm(path.join(layout.runDir, "master.pid"), { force: true });
    liveInstances.delete(layout.dir);
  };

  installExitHook();
  // Ports are probed then released before Dovecot binds them, so another process may grab one
  // in between: dovecot then exits 89 with "Address already in use"; pick fresh ports and retry.
  for (let attempt = 1; ; attempt++) {
    await writeConfig();
    try {
      await launch();
      break;
    } catch (err) {
      if (attempt >= 3 || !(err as { addressInUse?: boolean }).addressInUse) throw err;
      ports = await allocatePorts(tls);
    }
  }

  /** Runs `fn` with a logged-in ImapFlow client that is always closed afterwards. */
  const withClient = async <T>(user: string, fn: (client: ImapFlow) => Promise<T>): Promise<T> => {
    if (stopped) throw new Error("Dovecot instance is stopped");
    const password = passwords.get(user);
    if (password === undefined) throw new Error(`unknown Dovecot test user: ${user}`);
    const client = new ImapFlow({
      host: HOST,
      port: ports.imap,
      secure: false,
      // Helper traffic stays on loopback; skipping STARTTLS keeps it fast on TLS instances.
      doSTARTTLS: false,
      auth: { user, pass: password },
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
    });
    // Without a listener an 'error' event (e.g. socket reset during restart) would crash the
    // test process; the failing command rejects on its own anyway.
    client.on("error", () => undefined);
    try {
      await client.connect();
      return await fn(client);
    } finally {
      if (client.usable) {
        await client.logout().catch(() => client.close());
      } else {
        client.close();
      }
    }
  };

  const ensureFolder = async (client: ImapFlow, folder: string): Promise<void> => {
    if (folder.toUpperCase() === "INBOX") return;
    // imapflow maps Dovecot's [ALREADYEXISTS] to { created: false } instead of throwing.
    await client.mailboxCreate(folder);
  };

  return {
    host: HOST,
    imapPort: ports.imap,
    ...(ports.imaps !== undefined ? { imapsPort: ports.imaps } : {}),
    pop3Port: ports.pop3,
    ...(ports.pop3s !== undefined ? { pop3sPort: ports.pop3s } : {}),
    dir: layout.dir,
    ...(caCertPem !== undefined ? { caCertPem } : {}),
    withImap: withClient,

    async addUser(name: string, password: string): Promise<void> {
      if (stopped) throw new Error("Dovecot instance is stopped");
      assertValidUser(name, password);
      if (passwords.has(name)) throw new Error(`Dovecot test user already exists: ${name}`);
      await appendFile(layout.usersPath, passwdLine({ name, password }));
      passwords.set(name, password);
      // Dovecot rereads a changed passwd-file, but stats it at most once per second of its
      // ioloop clock (passwd_file_sync: `if (last_sync_time == ioloop_time) use cache`). A
      // lookup in the same second as an earlier one would still miss the new user, so return
      // only once the wall clock has moved into the next second.
      await sleep(1000 - (Date.now() % 1000) + 20);
    },

    async setPassword(name: string, password: string): Promise<void> {
      if (stopped) throw new Error("Dovecot instance is stopped");
      assertValidUser(name, password);
      if (!passwords.has(name)) throw new Error(`No such Dovecot test user: ${name}`);
      passwords.set(name, password);
      await writeFile(layout.usersPath, [...passwords].map(([n, p]) => passwdLine({ name: n, password: p })).join(""), { mode: 0o644 });
      // Same passwd-file re-read rule as addUser: be sure the next lookup is in a later second.
      await sleep(1000 - (Date.now() % 1000) + 1020);
    },

    async append(user: string, raw: string | Buffer, appendOpts: AppendOptions = {}): Promise<void> {
      const folder = appendOpts.folder ?? "INBOX";
      await withClient(user, async (client) => {
        await ensureFolder(client, folder);
        const result = await client.append(folder, raw, appendOpts.flags ?? []);
        if (result === false) throw new Error(`APPEND to ${folder} for ${user} failed`);
      });
    },

    async appendMany(user: string, raws: readonly (string | Buffer)[], appendOpts: AppendOptions = {}): Promise<void> {
      const folder = appendOpts.folder ?? "INBOX";
      await withClient(user, async (client) => {
        await ensureFolder(client, folder);
        for (const raw of raws) {
          if ((await client.append(folder, raw, appendOpts.flags ?? [])) === false) throw new Error(`APPEND to ${folder} for ${user} failed`);
        }
      });
    },

    async markSeen(user: string, uids: readonly number[], folder = "INBOX"): Promise<void> {
      if (uids.length === 0) return;
      await withClient(user, async (client) => {
        const lock = await client.getMailboxLock(folder);
        try {
          await client.messageFlagsAdd(uids.join(","), ["\\Seen"], { uid: true });
        } finally {
          lock.release();
        }
      });
    },

    async createFolder(user: string, folder: string): Promise<void> {
      await withClient(user, (client) => ensureFolder(client, folder));
    },

    async messages(user: string, folder = "INBOX"): Promise<MessageSummary[]> {
      return withClient(user, async (client) => {
        // EXAMINE (read-only) so that looking does not change what the code under test sees.
        const lock = await client.getMailboxLock(folder, { readOnly: true });
        try {
          const mailbox = client.mailbox;
          if (mailbox === false || mailbox.exists === 0) return [];
          const fetched = await client.fetchAll("1:*", { uid: true, flags: true, size: true });
          return fetched
            .map((m) => ({ uid: m.uid, seen: m.flags?.has("\\Seen") ?? false, size: m.size ?? 0 }))
            .sort((a, b) => a.uid - b.uid);
        } finally {
          lock.release();
        }
      });
    },

    async restart(): Promise<void> {
      if (stopped) throw new Error("Dovecot instance is stopped");
      await shutdown();
      // Same ports on purpose: clients under test reconnect to where they were. Retry briefly
      // in case a lingering child still holds a listener.
      for (let attempt = 1; ; attempt++) {
        try {
          await launch();
          return;
        } catch (err) {
          if (attempt >= 5 || !(err as { addressInUse?: boolean }).addressInUse) throw err;
          await sleep(200);
        }
      }
    },

    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      try {
        await shutdown();
      } finally {
        await rm(layout.dir, { recursive: true, force: true, maxRetries: 3 });
      }
    },
  };
}

/**
 * Dovecot uses one inotify instance per IDLE client (mail runs as one uid), and Linux allows 128
 * per user by default. Best effort: fails harmlessly without root or inside some containers.
 */
async function raiseInotifyLimits(): Promise<void> {
  try {
    await execFileAsync("sysctl", ["-w", "fs.inotify.max_user_instances=8192", "fs.inotify.max_user_watches=524288"]);
  } catch {
    // ignore: capacity tests will show the limit if it matters
  }
}

export interface MakeMessageOptions {
  from?: string;
  to?: string;
  subject: string;
  body?: string;
  messageId?: string;
  date?: Date;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const;

/** RFC 5322 date-time in UTC with a numeric zone (`toUTCString()` gives the obsolete "GMT"). */
function formatRfc5322Date(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, "0");
  return (
    `${DAYS[date.getUTCDay()]}, ${pad(date.getUTCDate())} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}

const NON_ASCII = /[\u0080-\uffff]/;

/** Header values: no line breaks (header injection) and RFC 2047 for non-ASCII. */
function headerValue(value: string, encodeNonAscii: boolean): string {
  const single = value.replace(/[\r\n]+/g, " ");
  if (encodeNonAscii && NON_ASCII.test(single)) {
    return `=?UTF-8?B?${Buffer.from(single, "utf8").toString("base64")}?=`;
  }
  return single;
}

/** Builds a plain-text RFC 5322 message with CRLF line endings, ready for APPEND or SMTP. */
export function makeMessage(opts: MakeMessageOptions): string {
  const body = (opts.body ?? `Body of: ${opts.subject}`).replace(/\r\n|\r|\n/g, "\r\n");
  const messageId = opts.messageId ?? `<${randomBytes(12).toString("hex")}@test.localhost>`;
  const eightBit = NON_ASCII.test(body);
  const headers = [
    `From: ${headerValue(opts.from ?? "Test Sender <sender@example.test>", false)}`,
    `To: ${headerValue(opts.to ?? "recipient@example.test", false)}`,
    `Subject: ${headerValue(opts.subject, true)}`,
    `Date: ${formatRfc5322Date(opts.date ?? new Date())}`,
    `Message-ID: ${headerValue(messageId, false)}`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    `Content-Transfer-Encoding: ${eightBit ? "8bit" : "7bit"}`,
  ];
  return `${headers.join("\r\n")}\r\n\r\n${body}${body.endsWith("\r\n") ? "" : "\r\n"}`;
}
