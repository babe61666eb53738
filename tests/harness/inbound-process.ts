import type { ChildProcess } from "node:child_process";
import { startServiceProcess } from "./child-process";
import { getFreePort } from "./ports";

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
  const { child, logs, kill } = await startServiceProcess({
    name: "inbound server",
    script: "inbound/index.ts",
    env: {
      INBOUND_SMTP_PORT: String(smtpPort),
      INBOUND_BIND_ADDRESS: "127.0.0.1",
      INBOUND_HEALTH_PORT: String(healthPort),
      INBOUND_HOSTNAME: "mx.in.test",
      LOG_LEVEL: "info",
      ...env,
    },
    healthUrl: `http://127.0.0.1:${healthPort}/health`,
  });
  return { smtpPort, healthPort, child, logs, kill, stop: async () => void (await kill("SIGTERM")) };
}
