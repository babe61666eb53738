import PgBoss from "pg-boss";
import type { Logger } from "pino";
import { poolExecutor, transactionExecutor, type Transaction } from "@/lib/db/queries/job-queue";
import { getEnv } from "@/lib/env";

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
    pollingIntervalSeconds: env.JOBS_POLL_MS / 1000,
  });
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
    for (const spec of specs) {
      if (spec.cron) await instance.schedule(spec.name, spec.cron, {}, { tz: "UTC" });
      const handler = spec.handler;
      if (!handler) continue;
      for (let i = 0; i < (spec.workers ?? 1); i++) {
        await instance.work<object>(spec.name, { batchSize: spec.batchSize ?? 1 }, async (jobs) => {
          await handler(jobs as PgBoss.Job<never>[]);
        });
      }
    }
    return instance;
  })();
  try {
    return await ready;
  } catch (err) {
    boss = undefined;
    ready = undefined;
    running = false;
    throw err;
  }
}

/** Stops workers (waiting up to `timeoutMs` for running handlers); the app's pool stays open. */
export async function stopJobQueue({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<void> {
  const instance = boss;
  boss = undefined;
  ready = undefined;
  running = false;
  created.clear();
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
}
