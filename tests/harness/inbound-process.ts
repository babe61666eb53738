import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { getFreePort, waitFor } from "./ports";

const root = path.resolve(import.meta.dirname, "..", "..");

export type InboundProcess = {
  smtpPort: number;
  healthPort: number;
  child: ChildProcess;
  logs: string[];
  kill: (signal: NodeJS.Signals) => Promise<number | null>;
  stop: () => Promise<void>;
};

/** Runs the real inbound entrypoint (`inbound/index.ts`) as its own process, like its container. */
export async function startInboundProcess(env: Record<string, string | undefined> = {}): Promise<InboundProcess> {
  const smtpPort = await getFreePort();
  const healthPort = await getFreePort();
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "inbound/index.ts")], {
    cwd: root,
    env: {
      ...process.env,
      INBOUND_SMTP_PORT: String(smtpPort),
      INBOUND_BIND_ADDRESS: "127.0.0.1",
      INBOUND_HEALTH_PORT: String(healthPort),
      INBOUND_HOSTNAME: "mx.in.test",
      LOG_LEVEL: "info",
      ...env,
    },
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
        if (child.exitCode !== null) throw new Error(`inbound exited with ${child.exitCode}: ${logs.slice(-5).join("\n")}`);
        return (await fetch(`http://127.0.0.1:${healthPort}/health`)).ok;
      },
      { timeoutMs: 30_000, what: "the inbound server's /health" },
    );
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  const kill = async (signal: NodeJS.Signals): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return { smtpPort, healthPort, child, logs, kill, stop: async () => void (await kill("SIGTERM")) };
}
