import type { Logger } from "pino";
import { getAlertPolicy, getQuietPolicy } from "@/lib/alerts/alert-policy";
import { quietThresholdMs } from "@/lib/alerts/alert-state";
import { clearQuietWarnings, listQuietHistories, processDueAlerts, recordQuietWarning } from "@/lib/db/queries/mailbox-alerts";
import type { QuietPolicy } from "@/lib/alerts/alert-state";
import type { Env } from "@/lib/env";

/**
 * One quiet-mailbox pass: warns (once) every opted-in mailbox whose silence exceeds what its own
 * history makes normal, and clears the warning of those that received mail since. Exported so the
 * SQL behind it can be exercised with real rows and chosen timings.
 */
export async function scanQuietMailboxes({
  now,
  historyDays,
  policy,
  log,
}: {
  now: Date;
  historyDays: number;
  policy: QuietPolicy;
  log: Pick<Logger, "info">;
}): Promise<{ warned: string[]; recovered: string[] }> {
  const histories = await listQuietHistories({ since: new Date(now.getTime() - historyDays * 86_400_000) });
  const recovered: string[] = [];
  const warned: string[] = [];
  for (const h of histories) {
    if (h.quietWarnedAt) {
      if (h.lastReceivedAt && h.lastReceivedAt > h.quietWarnedAt) recovered.push(h.mailboxId);
      continue;
    }
    const threshold = quietThresholdMs(h, now, policy);
    if (threshold === null) continue;
    const alert = await recordQuietWarning({ mailboxId: h.mailboxId, tenantId: h.tenantId, now });
    if (!alert) continue;
    warned.push(h.mailboxId);
    log.info({ event: "mailbox_quiet", mailbox_id: h.mailboxId, threshold_ms: threshold }, "mailbox unusually quiet");
  }
  await clearQuietWarnings({ mailboxIds: recovered });
  return { warned, recovered };
}

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

  const tick = async (): Promise<void> => {
    const now = new Date();
    const created = await processDueAlerts({ policy, now });
    for (const a of created) log.info({ event: "alert_recorded", alert_id: a.id, kind: a.kind, code: a.code, mailbox_id: a.mailboxId }, "alert recorded");
    if (now.getTime() - lastQuietScan >= env.ALERT_QUIET_SCAN_SECONDS * 1000) {
      lastQuietScan = now.getTime();
      await scanQuietMailboxes({ now, historyDays: env.ALERT_QUIET_HISTORY_DAYS, policy: quiet, log });
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
