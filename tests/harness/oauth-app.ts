/**
 * The built app's production server (scripts/web-server.ts, as deployed) with an environment of the test's choosing (the OAuth endpoints of
 * a local test server, a short refresh skew...). The runner's shared app (TEST_APP_URL) can't be
 * pointed at a server that a test file starts on a random port, so OAuth suites start their own.
 * Needs a build (`.next/BUILD_ID`): `scripts/run-tests.ts` makes one unless TEST_NO_APP=1.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { repoRoot, startServiceProcess } from "./child-process";
import { getFreePort } from "./ports";

export type TestWebApp = {
  url: string;
  /** Everything the app wrote to stdout/stderr (JSON log lines), for "no secret in any log" checks. */
  logs: string[];
  stop: () => Promise<void>;
};

export async function startTestWebApp(env: Record<string, string>): Promise<TestWebApp> {
  if (!existsSync(path.join(repoRoot, ".next", "BUILD_ID"))) {
    throw new Error("No Next.js build in .next: run the suite through scripts/run-tests.ts (it builds) or `npx next build`.");
  }
  const port = await getFreePort();
  const url = `http://127.0.0.1:${port}`;
  const { logs, kill } = await startServiceProcess({
    name: "web server",
    script: "scripts/web-server.ts",
    args: ["-H", "127.0.0.1"],
    env: {
      APP_ENV: "test",
      NODE_ENV: "production",
      NEXT_TELEMETRY_DISABLED: "1",
      LOG_LEVEL: "info",
      APP_URL: url,
      ...env,
      PORT: String(port),
    },
    healthUrl: `${url}/health`,
    timeoutMs: 60_000,
    intervalMs: 100,
  });
  return {
    url,
    logs,
    stop: async () => {
      // Next.js may take its time on SIGTERM; a test never waits more than 5 s for it.
      const exited = kill("SIGTERM");
      const done = await Promise.race([exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 5000))]);
      if (!done) await kill("SIGKILL");
    },
  };
}
