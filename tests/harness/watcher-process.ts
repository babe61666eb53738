import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { getFreePort, waitFor } from "./ports";

const root = path.resolve(import.meta.dirname, "..", "..");

export type WatcherProcess = {
  port: number;
  child: ChildProcess;
  /** Lines the watcher logged (JSON), for assertions about what it says. */
  logs: string[];
  /** The watcher's /metrics text, fetched with the internal token it requires. */
  metrics: () => Promise<string>;
  kill: (signal: NodeJS.Signals) => Promise<number | null>;
  stop: () => Promise<void>;
};

/** Runs the real watcher entrypoint (`watcher/index.ts`) as its own process, like the container does. */
export async function startWatcherProcess(env: Record<string, string | undefined> = {}): Promise<WatcherProcess> {
  const port = await getFreePort();
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "watcher/index.ts")], {
    cwd: root,
    env: { ...process.env, WATCHER_PORT: String(port), LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  const collect = (chunk: Buffer): void => {
    logs.push(...chunk.toString().split("\n").filter(Boolean));
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`watcher exited with ${child.exitCode}: ${logs.slice(-5).join("\n")}`);
        return (await fetch(`http://127.0.0.1:${port}/health`)).ok;
      },
      { timeoutMs: 30_000, what: "the watcher's /health" },
    );
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  const kill = async (signal: NodeJS.Signals): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  const token = env.INTERNAL_API_TOKEN ?? process.env.INTERNAL_API_TOKEN ?? "";
  const metrics = async (): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`watcher /metrics answered ${res.status}`);
    return res.text();
  };
  return { port, child, logs, metrics, kill, stop: async () => void (await kill("SIGTERM")) };
}
