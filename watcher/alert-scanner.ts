import type { Logger } from "pino";
import { getAlertPolicy, getQuietPolicy } from "@/lib/alerts/alert-policy";
import { quietThresholdMs } from "@/lib/alerts/alert-state";
import { clearQuietWarnings, listQuietHistories, processDueAlerts, recordQuietWarning } from "@/lib/db/queries/mailbox-alerts";
import type { Env } from "@/lib/env";

/**
 * Issue 15: the one periodic scan per watcher process that turns due alert rows into alerts (and
 * their mail jobs), plus the quiet-mailbox check. Its cost is one indexed query per tick, however
 * many mailboxes sit idle; replicas share the rows through SKIP LOCKED.
 */
export function startAlertScanner({ env, log }: { env: Env; log: Logger }): { stop: () => Promise<void> } {
  const policy = getAlertPolicy();
  const quiet = getQuietPolicy();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let lastQuietScan = 0;

  const scanQuiet = async (now: Date): Promise<void> => {
    const histories = await listQuietHistories({ since: new Date(now.getTime() - env.ALERT_QUIET_HISTORY_DAYS * 86_400_000) });
    const recovered: string[] = [];
    for (const h of histories) {
      if (h.quietWarnedAt) {
        if (h.lastReceivedAt && h.lastReceivedAt > h.quietWarnedAt) recovered.push(h.mailboxId);
        continue;
      }
      const threshold = quietThresholdMs(h, now, quiet);
      if (threshold === null) continue;
      const alert = await recordQuietWarning({ mailboxId: h.mailboxId, tenantId: h.tenantId, now });
      if (alert) log.info({ event: "mailbox_quiet", mailbox_id: h.mailboxId, threshold_ms: threshold }, "mailbox unusually quiet");
    }
    await clearQuietWarnings({ mailboxIds: recovered });
  };

  const tick = async (): Promise<void> => {
    const now = new Date();
    const created = await processDueAlerts({ policy, now });
    for (const a of created) log.info({ event: "alert_recorded", alert_id: a.id, kind: a.kind, code: a.code, mailbox_id: a.mailboxId }, "alert recorded");
    if (now.getTime() - lastQuietScan >= env.ALERT_QUIET_SCAN_SECONDS * 1000) {
      lastQuietScan = now.getTime();
      await scanQuiet(now);
    }
  };

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick()
        .catch((err: unknown) => log.error({ event: "alert_scan_failed", err }, "alert scan failed"))
        .finally(schedule);
    }, env.ALERT_SCAN_SECONDS * 1000);
    timer.unref();
  };
  schedule();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
