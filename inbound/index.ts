/** `npm run start:inbound`: the inbound SMTP server of forwarding mailboxes (issue 16). */
import { getEnv } from "@/lib/env";
import { startInboundRuntime } from "@/lib/inbound/run-inbound";
import { getLogger } from "@/lib/logger";

process.env.SERVICE_NAME ??= "inbound";
const log = getLogger();

async function main(): Promise<void> {
  const runtime = await startInboundRuntime({ env: getEnv(), log });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "inbound stopping");
    setTimeout(() => process.exit(0), 35_000).unref();
    void runtime.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "inbound stop failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  log.fatal({ err }, "inbound failed to start");
  process.exit(1);
});
