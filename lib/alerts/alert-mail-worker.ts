import type { JobQueueSpec } from "@/lib/jobs/job-queue";
import { getLogger } from "@/lib/logger";
import { ALERT_MAIL_QUEUE, type AlertMailJob } from "./alert-mail-queue";
import { deliverAlert } from "./deliver-alerts";

/** The watcher's worker for ALERT_MAIL_QUEUE. */
export function alertMailWorker(): JobQueueSpec<AlertMailJob> {
  const log = getLogger().child({ component: "alert-mail" });
  return {
    ...ALERT_MAIL_QUEUE,
    batchSize: 1,
    handler: async (jobs) => {
      for (const job of jobs) {
        try {
          await deliverAlert({ notificationId: job.data.notificationId, log });
        } catch (err) {
          // pg-boss retries it; the log says why (an SMTP refusal, a database error).
          log.warn({ event: "alert_mail_failed", alert_id: job.data.notificationId, err }, "alert mail failed; will retry");
          throw err;
        }
      }
    },
  };
}
