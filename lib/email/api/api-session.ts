import { ChangePoller } from "@/lib/email/change-poller";
import { describeCause } from "@/lib/email/api/api-http";
import { MailError, type ProviderHealth, type WaitResult } from "@/lib/email/provider";

/**
 * The connection state the Gmail and Graph providers keep alike: connected, the last activity and
 * error for the health view, the close signal every call runs under, and the change poller behind
 * waitForChange. Each provider only says how one poll round goes and how often.
 */
export class ApiSession {
  connected = false;
  lastActivityAt: Date | null = null;
  lastError: string | null = null;
  /** A notifyChange() that no waitForChange has consumed yet: never lost between two waits. */
  readonly changes = new ChangePoller();
  private closeController = new AbortController();

  /** `unexpectedResponse`: the message for a failure that is not already a MailError. */
  constructor(private readonly unexpectedResponse: string) {}

  /** Aborted at disconnect and at every new connect (calls of the previous connection stop). */
  get closeSignal(): AbortSignal {
    return this.closeController.signal;
  }

  /** A call's signal: the caller's, if any, and the close signal. */
  callSignal(outer?: AbortSignal): AbortSignal {
    return outer ? AbortSignal.any([outer, this.closeController.signal]) : this.closeController.signal;
  }

  /** Start of connect: whatever the previous connection still runs is aborted. */
  reopen(): void {
    this.closeController.abort();
    this.closeController = new AbortController();
  }

  /** connect got through: connected, and no error to show. */
  opened(): void {
    this.connected = true;
    this.lastError = null;
  }

  /** disconnect: aborts the calls and ends a pending wait. */
  close(): void {
    this.connected = false;
    this.closeController.abort();
    this.changes.wakeAll();
  }

  markActivity(): void {
    this.lastActivityAt = new Date();
  }

  health(): ProviderHealth {
    return { connected: this.connected, lastActivityAt: this.lastActivityAt, lastError: this.lastError };
  }

  /** The error a public method throws; it is shown as lastError, and an auth failure ends the connection. */
  fail(err: unknown): MailError {
    const error = err instanceof MailError ? err : new MailError("protocol", this.unexpectedResponse, { cause: describeCause(err) });
    this.lastError = error.message;
    if (error.isAuthFailure) this.connected = false;
    return error;
  }

  /** Runs one public method's body: whatever it throws leaves through fail, as the contract wants. */
  async guard<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** waitForChange: "closed" when the caller or disconnect aborted it; any other failure goes through fail. */
  async waitForChange(opts: {
    timeoutMs: number;
    signal: AbortSignal;
    pollIntervalMs: () => number;
    poll: (signal: AbortSignal) => Promise<boolean>;
  }): Promise<WaitResult> {
    const signal = AbortSignal.any([opts.signal, this.closeController.signal]);
    try {
      return await this.changes.wait({
        timeoutMs: opts.timeoutMs,
        pollIntervalMs: opts.pollIntervalMs,
        signal,
        isConnected: () => this.connected,
        poll: opts.poll,
      });
    } catch (err) {
      if (signal.aborted) return "closed";
      throw this.fail(err);
    }
  }
}
