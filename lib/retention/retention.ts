import type { Logger } from "pino";
import { pruneOldLoginAttempts, pruneOldMailboxEvents, pruneRawSources } from "@/lib/db/queries/retention";
import { pruneWebhookDeliveries } from "@/lib/db/queries/webhooks";
import type { Env } from "@/lib/env";
import type { JobQueueSpec } from "@/lib/jobs/job-queue";

export type RetentionPolicy = { rawDays: number; mailboxEventDays: number; loginAttemptDays: number; webhookDays: number };

export type RetentionReport = {
  rawSources: number;
  mailboxEvents: number;
  loginAttempts: number;
  webhookDeliveries: number;
  webhookEvents: number;
};

export function retentionPolicyFromEnv(env: Env): RetentionPolicy {
  return {
    rawDays: env.RETENTION_RAW_DAYS,
    mailboxEventDays: env.RETENTION_MAILBOX_EVENTS_DAYS,
    loginAttemptDays: env.RETENTION_LOGIN_ATTEMPTS_DAYS,
    webhookDays: env.RETENTION_WEBHOOK_DAYS,
  };
}

const DAY_MS = 86_400_000;

/** One prune pass; a kind with 0 days is kept forever. */
export async function runRetention({ policy, now = new Date() }: { policy: RetentionPolicy; now?: Date }): Promise<RetentionReport> {
  const before = (days: number): Date => new Date(now.getTime() - days * DAY_MS);
  const report: RetentionReport = { rawSources: 0, mailboxEvents: 0, loginAttempts: 0, webhookDeliveries: 0, webhookEvents: 0 };
  if (policy.rawDays > 0) report.rawSources = await pruneRawSources({ before: before(policy.rawDays) });
  if (policy.mailboxEventDays > 0) report.mailboxEvents = await pruneOldMailboxEvents({ before: before(policy.mailboxEventDays) });
  if (policy.loginAttemptDays > 0) report.loginAttempts = await pruneOldLoginAttempts({ before: before(policy.loginAttemptDays) });
  if (policy.webhookDays > 0) {
    const pruned = await pruneWebhookDeliveries({ before: before(policy.webhookDays) });
    report.webhookDeliveries = pruned.deliveries;
    report.webhookEvents = pruned.events;
  }
  return report;
}

export const RETENTION_QUEUE = "retention-prune";

/** The daily prune: pg-boss's cron sends one job per tick for all replicas, so one replica runs it. */
export function retentionSpec(env: Env, log: Logger): JobQueueSpec<object> {
  return {
    name: RETENTION_QUEUE,
    policy: { retryLimit: 3, retryDelaySeconds: 300, retryBackoff: false, expireInSeconds: 3600 },
    cron: env.RETENTION_CRON,
    handler: async () => {
      const report = await runRetention({ policy: retentionPolicyFromEnv(env) });
      log.info({ event: "retention_pruned", ...report }, "retention pruned old rows");
    },
  };
}
