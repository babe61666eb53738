/**
 * The built app's production server (scripts/web-server.ts, as deployed) with an environment of the test's choosing (the OAuth endpoints of
 * a local test server, a short refresh skew...). The runner's shared app (TEST_APP_URL) can't be
 * pointed at a server that a test file starts on a random port, so OAuth suites start their own.
 * Needs a build (`.next/BUILD_ID`): `scripts/run-tests.ts` makes one unless TEST_NO_APP=1.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { getFreePort, waitFor } from "./ports";

const root = path.resolve(import.meta.dirname, "..", "..");

export type TestWebApp = {
  url: string;
  /** Everything the app wrote to stdout/stderr (JSON log lines), for "no secret in any log" checks. */
  logs: string[];
  stop: () => Promise<void>;
};

export async function startTestWebApp(env: Record<string, string>): Promise<TestWebApp> {
  if (!existsSync(path.join(root, ".next", "BUILD_ID"))) {
    throw new Error("No Next.js build in .next: run the suite through scripts/run-tests.ts (it builds) or `npx next build`.");
  }
  const port = await getFreePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", path.join(root, "scripts/web-server.ts"), "-H", "127.0.0.1"], {
    cwd: root,
    env: {
      ...process.env,
      APP_ENV: "test",
      NODE_ENV: "production",
      NEXT_TELEMETRY_DISABLED: "1",
      LOG_LEVEL: "info",
      APP_URL: url,
      ...env,
      PORT: String(port),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  const collect = (chunk: Buffer): void => {
    logs.push(...chunk.toString().split("\n").filter(Boolean));
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`the web server exited with ${child.exitCode}: ${logs.slice(-5).join("\n")}`);
        return (await fetch(`${url}/health`)).ok;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: "the test web app" },
    );
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return {
    url,
    logs,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}
