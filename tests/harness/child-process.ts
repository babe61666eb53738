import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { waitFor } from "./ports";

/** The checkout's root: entrypoints are started from here, as their containers do. */
export const repoRoot = path.resolve(import.meta.dirname, "..", "..");

export type ServiceProcess = {
  child: ChildProcess;
  /** Every line the process wrote to stdout/stderr (JSON log lines), for assertions about what it says. */
  logs: string[];
  /** Sends `signal` (unless it already exited) and resolves with the exit code. */
  kill: (signal: NodeJS.Signals) => Promise<number | null>;
};

/**
 * Runs one of the project's entrypoints (`node --import tsx <script>`) as its own process and waits
 * until its health URL answers 2xx. An exit before that fails with the last log lines; a timeout
 * kills it, so no test leaves an orphan behind.
 */
export async function startServiceProcess({
  name,
  script,
  args = [],
  env,
  healthUrl,
  timeoutMs = 30_000,
  intervalMs,
}: {
  name: string;
  script: string;
  args?: string[];
  env: Record<string, string | undefined>;
  healthUrl: string;
  timeoutMs?: number;
  intervalMs?: number;
}): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(repoRoot, script), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  const collect = (chunk: Buffer): void => {
    logs.push(...chunk.toString().split("\n").filter(Boolean));
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${logs.slice(-5).join("\n")}`);
        return (await fetch(healthUrl)).ok;
      },
      { timeoutMs, ...(intervalMs !== undefined ? { intervalMs } : {}), what: `the ${name}'s ${new URL(healthUrl).pathname}` },
    );
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  const kill = async (signal: NodeJS.Signals): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return { child, logs, kill };
}
