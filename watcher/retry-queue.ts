import type { Logger } from "pino";
import { processQueuedMessages } from "@/lib/ingest/ingest-messages";

/**
 * The retry queue: fetched messages whose parse or store did not finish (a crash mid-batch, a
 * replica that died holding the lease) are stored again by whichever replica drains first. One
 * drain at a time per process; a call while one runs is a no-op, as the running drain keeps
 * going until the queue is empty.
 */
export class RetryQueue {
  private running = false;

  constructor(private readonly opts: { owner: string; log: Logger; isStopping: () => boolean; batchSize?: number }) {}

  async drain(): Promise<void> {
    if (this.running || this.opts.isStopping()) return;
    this.running = true;
    try {
      const limit = this.opts.batchSize ?? 50;
      while (!this.opts.isStopping() && (await processQueuedMessages({ limit, owner: this.opts.owner })) > 0) {
        // keep going until the queue is empty
      }
    } catch (err) {
      this.opts.log.error({ err }, "processing queued messages failed");
    } finally {
      this.running = false;
    }
  }
}
