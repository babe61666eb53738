import type { ChildProcess } from "node:child_process";
import { startServiceProcess } from "./child-process";
import { getFreePort } from "./ports";

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
  const { child, logs, kill } = await startServiceProcess({
    name: "watcher",
    script: "watcher/index.ts",
    env: { WATCHER_PORT: String(port), LOG_LEVEL: "info", ...env },
    healthUrl: `http://127.0.0.1:${port}/health`,
  });
  const token = env.INTERNAL_API_TOKEN ?? process.env.INTERNAL_API_TOKEN ?? "";
  const metrics = async (): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`watcher /metrics answered ${res.status}`);
    return res.text();
  };
  return { port, child, logs, metrics, kill, stop: async () => void (await kill("SIGTERM")) };
}
