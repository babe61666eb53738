/**
 * The test runner behind `npm test`: starts the real peers once (embedded PostgreSQL with a migrated
 * template database, the built web app), then runs every suite with node's test runner.
 *   --only unit         only the pure tests beside the code (no database)
 *   --only integration  only tests/integration and tests/browser
 *   FILES...            only these test files
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import path from "node:path";
import { ensureDatabase, startEmbeddedPostgres, type EmbeddedServer } from "@/lib/db/embedded-server";
import { runMigrations } from "@/lib/db/migrate";
import { getFreePort, waitFor } from "@/tests/harness/ports";

const root = path.resolve(import.meta.dirname, "..");
const nextBin = createRequire(import.meta.url).resolve("next/dist/bin/next");
const args = process.argv.slice(2);
const onlyIndex = args.indexOf("--only");
const only = onlyIndex >= 0 ? args[onlyIndex + 1] : undefined;
const explicitFiles = args.filter((a, i) => !a.startsWith("--") && (onlyIndex < 0 || i !== onlyIndex + 1));

function findTests(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) findTests(full, out);
    else if (/\.test\.tsx?$/.test(name)) out.push(path.relative(root, full));
  }
  return out;
}

const all = ["lib", "watcher", "components", "app", "scripts", "bench", "tests"].filter((d) => existsSync(path.join(root, d))).flatMap((d) => findTests(path.join(root, d)));
const isIntegration = (f: string): boolean => f.startsWith("tests/");
const files = explicitFiles.length
  ? explicitFiles
  : all.filter((f) => (only === "unit" ? !isIntegration(f) : only === "integration" ? isIntegration(f) : true)).sort(
      // pure tests first: they fail fast and need no peers
      (a, b) => Number(isIntegration(a)) - Number(isIntegration(b)) || a.localeCompare(b),
    );
const needsPeers = files.some(isIntegration);
const needsApp =
  process.env.TEST_NO_APP !== "1" && files.some((f) => f.startsWith("tests/integration/") || f.startsWith("tests/browser/"));

const children: ChildProcess[] = [];
let pgServer: EmbeddedServer | undefined;
const tmp = mkdtempSync(path.join(tmpdir(), "mailbox-tests-"));
// The embedded server runs as the `postgres` user when we are root: it must reach its data dir.
chmodSync(tmp, 0o755);

async function cleanup(): Promise<void> {
  for (const c of children) {
    if (c.exitCode !== null || !c.pid) continue;
    try {
      // Detached children lead their own process group: signal the whole group.
      process.kill(c.spawnargs.some((a) => a.endsWith("web-server.ts")) ? -c.pid : c.pid, "SIGTERM");
    } catch {
      c.kill("SIGTERM");
    }
  }
  await pgServer?.stop().catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
}

async function main(): Promise<number> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    APP_ENV: "test",
    DATA_DIR: path.join(tmp, "data"),
    MAIL_ALLOW_PRIVATE_HOSTS: "true",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
    ENCRYPTION_KEYS: process.env.ENCRYPTION_KEYS ?? "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=",
    SESSION_SECRET: "test-session-secret-0123456789abcdef",
    INTERNAL_API_TOKEN: "test-internal-token",
  };
  if (needsPeers) {
    const depsScript = path.join(root, "scripts/install-test-deps.sh");
    const deps = spawnSync("bash", [depsScript], { stdio: "inherit" });
    if (deps.status !== 0) return deps.status ?? 1;
    let adminUrl: string;
    if (process.env.DATABASE_URL) {
      adminUrl = process.env.DATABASE_URL;
    } else {
      const port = await getFreePort();
      pgServer = await startEmbeddedPostgres({ dataDir: path.join(tmp, "pg"), port, persistent: false });
      adminUrl = pgServer.url("postgres");
    }
    const template = `mailbox_template_${process.pid}`;
    const appDb = `mailbox_app_${process.pid}`;
    await ensureDatabase(adminUrl, template);
    const templateUrl = new URL(adminUrl);
    templateUrl.pathname = `/${template}`;
    await runMigrations(templateUrl.toString());
    await ensureDatabase(adminUrl, appDb);
    const appUrl = new URL(adminUrl);
    appUrl.pathname = `/${appDb}`;
    await runMigrations(appUrl.toString());
    Object.assign(env, { TEST_PG_ADMIN_URL: adminUrl, TEST_PG_TEMPLATE: template, DATABASE_URL: appUrl.toString() });
    if (needsApp) {
      if (!existsSync(path.join(root, ".next", "BUILD_ID")) || process.env.TEST_REBUILD !== "0") {
        console.log("building the web app (next build)...");
        const build = spawnSync(process.execPath, [nextBin, "build"], { cwd: root, stdio: "inherit", env: { ...env, NEXT_TELEMETRY_DISABLED: "1" } });
        if (build.status !== 0) return build.status ?? 1;
      }
      const webPort = await getFreePort();
      const appOrigin = `http://127.0.0.1:${webPort}`;
      Object.assign(env, { APP_URL: appOrigin, TEST_APP_URL: appOrigin, PORT: String(webPort) });
      // Next's own bin under node, in its own process group: killing an `npx` wrapper would leave
      // the real server running after the tests.
      // The production server (scripts/web-server.ts: Next behind our listener, which tells route
      // handlers the TCP peer). The tests play one trusted proxy: X-Forwarded-For names the client.
      const web = spawn(process.execPath, ["--import", "tsx", "scripts/web-server.ts", "-H", "127.0.0.1"], {
        cwd: root,
        env: { ...env, NEXT_TELEMETRY_DISABLED: "1", NODE_ENV: "production", TRUSTED_PROXY_HOPS: env.TRUSTED_PROXY_HOPS ?? "1" },
        stdio: ["ignore", "ignore", "inherit"],
        detached: true,
      });
      children.push(web);
      await waitFor(async () => (await fetch(`${appOrigin}/health`)).ok, { timeoutMs: 60_000, what: "the web app" });
    }
  }
  const run = spawn(
    process.execPath,
    ["--import", "tsx", "--test", "--test-concurrency=1", "--test-timeout=300000", ...files],
    { cwd: root, env, stdio: "inherit" },
  );
  children.push(run);
  return new Promise((resolve) => run.on("exit", (code) => resolve(code ?? 1)));
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    void cleanup().then(() => process.exit(130));
  });
}

main()
  .then(async (code) => {
    await cleanup();
    process.exit(code);
  })
  .catch(async (err: unknown) => {
    console.error(err);
    await cleanup();
    process.exit(1);
  });
