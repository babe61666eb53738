/** `npm run start:inbound`: the inbound SMTP server of forwarding mailboxes (issue 16). */
import { getEnv } from "@/lib/env";
import { startInboundRuntime } from "@/lib/inbound/run-inbound";
import { getLogger } from "@/lib/logger";
import { stopOnSignal } from "@/lib/util/stop-on-signal";

process.env.SERVICE_NAME ??= "inbound";
const log = getLogger();

async function main(): Promise<void> {
  const runtime = await startInboundRuntime({ env: getEnv(), log });
  // SMTP sessions get time to finish their DATA before the process exits anyway.
  stopOnSignal({ name: "inbound", log, stop: () => runtime.stop(), graceMs: 35_000 });
}

main().catch((err: unknown) => {
  log.fatal({ err }, "inbound failed to start");
  process.exit(1);
});
