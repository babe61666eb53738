import PgBoss from "pg-boss";
import type { Logger } from "pino";
import {
  listenForJobs,
  notifyJobsReady,
  poolExecutor,
  transactionExecutor,
  type Transaction,
} from "@/lib/db/queries/job-queue";
import { getEnv } from "@/lib/env";
import { startDelayMs } from "./start-delay";

/**
 * One queue of background work: its retry policy and (in the process that runs it) its handler.
 * The handler gets a batch; throwing fails every job of the batch, which pg-boss then retries per
 * the policy. A crashed process leaves its jobs active until `expireInSeconds`, then they retry.
 */
export type JobQueueSpec<T extends object = object> = {
  name: string;
  policy: { retryLimit: number; retryDelaySeconds: number; retryBackoff: boolean; expireInSeconds: number };
  handler?: (jobs: PgBoss.Job<T>[]) => Promise<void>;
  /** Jobs fetched per poll and parallel pollers in this process. */
  batchSize?: number;
  workers?: number;
  /** A cron schedule (UTC): pg-boss sends one job per tick across all replicas. */
  cron?: string;
};

/** A spec of any payload type (for lists of queues). */
export type AnyJobQueueSpec = JobQueueSpec<never>;

export class JobQueueError extends Error {
  override name = "JobQueueError";
}

let boss: PgBoss | undefined;
let ready: Promise<PgBoss> | undefined;
let running = false;
const created = new Set<string>();
/** This process's pg-boss worker ids per queue: a notification for a queue wakes these. */
const workersByQueue = new Map<string, string[]>();
/** Local wake-ups at a delayed job's startAfter (see sendJob). */
const wakeTimers = new Set<NodeJS.Timeout>();
let jobListener: { stop: () => Promise<void> } | undefined;

/** A lost LISTEN connection is retried this often; meanwhile the poll (JOBS_POLL_MS) runs jobs. */
const RELISTEN_MS = 5_000;
/** Delayed jobs due within this get a local wake-up timer; later ones are left to the poll. */
const MAX_WAKE_TIMER_MS = 3_600_000;
/** A wake-up slightly after startAfter, so PostgreSQL's `start_after < now()` already holds. */
const WAKE_MARGIN_MS = 250;

function createBoss({ run }: { run: boolean }): PgBoss {
  const env = getEnv();
  return new PgBoss({
    db: poolExecutor(),
    schema: env.JOBS_SCHEMA,
    // Only a process that runs jobs supervises (expires and retries crashed jobs) and schedules;
    // a sender (the web app) only installs the schema if it is missing and inserts jobs.
    supervise: run,
    schedule: run,
    maintenanceIntervalSeconds: env.JOBS_MAINTENANCE_SECONDS,
    // Idle workers sleep until a notification (notifyJobsReady) wakes them: the poll is only the
    // safety net for a notification lost while the listener reconnected, and for retries.
    pollingIntervalSeconds: env.JOBS_POLL_MS / 1000,
    // pg-boss's own cron pollers (defaults 5 s and 30 s) at their maximum: a schedule tick runs at
    // most ~90 s late, which the hourly-or-rarer schedules (retention) do not notice.
    cronWorkerIntervalSeconds: 45,
    cronMonitorIntervalSeconds: 45,
  });
}

function wakeQueue(instance: PgBoss, queue: string): void {
  for (const id of workersByQueue.get(queue) ?? []) instance.notifyWorker(id);
}

/**
 * Keeps one LISTEN on the jobs channel for as long as the queue runs. A lost connection is
 * retried every RELISTEN_MS; once back, every worker looks once, for the jobs whose notification
 * nobody heard. Never throws: without the listener, jobs still run at the next poll.
 */
async function startJobListener({ instance, log }: { instance: PgBoss; log: Logger }): Promise<{ stop: () => Promise<void> }> {
  let stopped = false;
  let session: { close: () => Promise<void> } | undefined;
  let retry: NodeJS.Timeout | undefined;
  const listen = async (afterLoss: boolean): Promise<void> => {
    retry = undefined;
    if (stopped) return;
    try {
      const opened = await listenForJobs({
        onQueue: (queue) => wakeQueue(instance, queue),
        onLost: (err) => {
          if (session !== opened) return;
          session = undefined;
          log.warn({ event: "job_listener_lost", err }, "job LISTEN connection lost: listening again");
          scheduleRetry();
        },
      });
      if (stopped) return void (await opened.close());
      session = opened;
      if (afterLoss) {
        for (const queue of workersByQueue.keys()) wakeQueue(instance, queue);
        log.info({ event: "job_listener_back" }, "job LISTEN connection back");
      }
    } catch (err) {
      log.warn({ event: "job_listener_failed", err }, "could not LISTEN for jobs: retrying");
      scheduleRetry();
    }
  };
  const scheduleRetry = (): void => {
    if (stopped || retry) return;
    retry = setTimeout(() => void listen(true), RELISTEN_MS);
  };
  await listen(false);
  return {
    stop: async () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      retry = undefined;
      const open = session;
      session = undefined;
      if (open) await open.close();
    },
  };
}

/**
 * After a send: wake the workers now (a job due at once), or, in the process that runs them, at a
 * delayed job's start. The wake-up is a notification at commit, so a rolled-back job wakes nobody
 * and a committed one is visible to the worker it wakes.
 */
async function announce({ queue, delayMs, tx }: { queue: string; delayMs: number; tx?: Transaction }): Promise<void> {
  if (delayMs === 0) return notifyJobsReady({ queue, tx });
  const instance = boss;
  if (!running || !instance || delayMs > MAX_WAKE_TIMER_MS) return;
  const timer = setTimeout(() => {
    wakeTimers.delete(timer);
    wakeQueue(instance, queue);
  }, delayMs + WAKE_MARGIN_MS);
  timer.unref();
  wakeTimers.add(timer);
}

async function createQueues(instance: PgBoss, specs: AnyJobQueueSpec[]): Promise<void> {
  for (const spec of specs) {
    const options = {
      name: spec.name,
      retryLimit: spec.policy.retryLimit,
      retryDelay: spec.policy.retryDelaySeconds,
      retryBackoff: spec.policy.retryBackoff,
      expireInSeconds: spec.policy.expireInSeconds,
    };
    // createQueue is a no-op for an existing queue; updateQueue brings its policy up to date.
    await instance.createQueue(spec.name, options);
    await instance.updateQueue(spec.name, options);
    created.add(spec.name);
  }
}

/**
 * Starts the job queue in a process that RUNS jobs (the watcher): installs or migrates the pg-boss
 * schema, creates the queues, registers their handlers and cron schedules.
 */
export async function startJobQueue({ specs, log }: { specs: AnyJobQueueSpec[]; log: Logger }): Promise<PgBoss> {
  if (running) throw new JobQueueError("The job queue is already started in this process.");
  if (boss) await stopJobQueue(); // a send-only instance from an earlier send
  running = true;
  const instance = createBoss({ run: true });
  instance.on("error", (err: unknown) => log.error({ event: "job_queue_error", err }, "job queue error"));
  boss = instance;
  ready = (async () => {
    await instance.start();
    await createQueues(instance, specs);
    // Listening before the workers start: no job sent after this resolves goes unannounced.
    jobListener = await startJobListener({ instance, log });
    for (const spec of specs) {
      if (spec.cron) await instance.schedule(spec.name, spec.cron, {}, { tz: "UTC" });
      const handler = spec.handler;
      if (!handler) continue;
      const batchSize = spec.batchSize ?? 1;
      for (let i = 0; i < (spec.workers ?? 1); i++) {
        let workerId = "";
        workerId = await instance.work<object>(spec.name, { batchSize }, async (jobs) => {
          await handler(jobs as PgBoss.Job<never>[]);
          // A full batch means a backlog: fetch again at once instead of sleeping a poll interval
          // (pg-boss sleeps after every fetch, which would cap a queue at workers x batch per poll).
          if (jobs.length === batchSize && workerId) instance.notifyWorker(workerId);
        });
        workersByQueue.set(spec.name, [...(workersByQueue.get(spec.name) ?? []), workerId]);
      }
    }
    return instance;
  })();
  try {
    return await ready;
  } catch (err) {
    await stopJobQueue({ timeoutMs: 0 }).catch(() => {});
    throw err;
  }
}

/** Stops workers (waiting up to `timeoutMs` for running handlers); the app's pool stays open. */
export async function stopJobQueue({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<void> {
  const instance = boss;
  const listener = jobListener;
  boss = undefined;
  ready = undefined;
  running = false;
  jobListener = undefined;
  created.clear();
  workersByQueue.clear();
  for (const timer of wakeTimers) clearTimeout(timer);
  wakeTimers.clear();
  await listener?.stop();
  if (instance) await instance.stop({ graceful: true, timeout: timeoutMs, close: false, wait: true });
}

/** The instance for sending: the running one, or (web process) a send-only one started once. */
async function getSender(specs: AnyJobQueueSpec[]): Promise<PgBoss> {
  if (!ready) {
    const instance = createBoss({ run: false });
    instance.on("error", () => {});
    boss = instance;
    ready = instance.start();
  }
  const instance = await ready;
  const missing = specs.filter((s) => !created.has(s.name));
  if (missing.length > 0) await createQueues(instance, missing);
  return instance;
}

export type SendOptions = { startAfter?: Date | number; singletonKey?: string; id?: string };

/**
 * Sends one job. With `tx`, the job is inserted by that transaction's connection: it runs only if
 * the transaction commits, so a row and the job that acts on it are written together or not at all.
 */
export async function sendJob<T extends object>({
  spec,
  data,
  tx,
  options = {},
}: {
  spec: JobQueueSpec<T>;
  data: T;
  tx?: Transaction;
  options?: SendOptions;
}): Promise<string> {
  const instance = await getSender([spec as unknown as AnyJobQueueSpec]);
  const id = await instance.send(spec.name, data, {
    ...options,
    ...(tx ? { db: transactionExecutor(tx) } : {}),
  });
  // pg-boss answers null when the insert joined no queue (or a singleton was taken): never silent.
  if (!id) throw new JobQueueError(`The job was not queued (queue ${spec.name}).`);
  await announce({ queue: spec.name, delayMs: startDelayMs({ startAfter: options.startAfter, now: Date.now() }), tx });
  return id;
}

/** Sends many jobs of one queue in one statement (optionally inside `tx`). */
export async function sendJobs<T extends object>({
  spec,
  jobs,
  tx,
}: {
  spec: JobQueueSpec<T>;
  jobs: { data: T; startAfter?: Date }[];
  tx?: Transaction;
}): Promise<void> {
  if (jobs.length === 0) return;
  const instance = await getSender([spec as unknown as AnyJobQueueSpec]);
  const rows = jobs.map((j) => ({ name: spec.name, data: j.data, ...(j.startAfter ? { startAfter: j.startAfter } : {}) }));
  await instance.insert(rows, tx ? { db: transactionExecutor(tx) } : {});
  // One announcement for the batch: the soonest job's (the workers fetch what else is due).
  const now = Date.now();
  const delayMs = Math.min(...jobs.map((j) => startDelayMs({ startAfter: j.startAfter, now })));
  await announce({ queue: spec.name, delayMs, tx });
}
