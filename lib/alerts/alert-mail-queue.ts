import type { JobQueueSpec } from "@/lib/jobs/job-queue";

export type AlertMailJob = { notificationId: string };

/**
 * Alert mail (issue 15): one job per alert, sent in the transaction that records the alert. An SMTP
 * failure retries with backoff for about a day; deliveries already made are not repeated.
 */
export const ALERT_MAIL_QUEUE: JobQueueSpec<AlertMailJob> = {
  name: "alert-mail",
  policy: { retryLimit: 12, retryDelaySeconds: 30, retryBackoff: true, expireInSeconds: 300 },
};
