import { MailError } from "@/lib/email/provider";
import { getLivenessWheel } from "@/lib/email/timer-wheel";

/**
 * Live-connection checks for IMAP (issue 13, item 6). A NAT or firewall that drops a flow sends no
 * FIN or RST: the socket stays "open", writes land in kernel buffers and nothing ever comes back.
 * Two checks catch that long before imapflow's socket timeout would:
 * - every command fails once the server has been silent for `commandTimeoutMs` while it runs
 *   (silence, not total time: a long FETCH that keeps streaming is fine);
 * - an IDLE (or a polling wait) that hears nothing for `idleSilenceMs` is checked with a NOOP that
 *   must be answered within `probeTimeoutMs`. Dovecot sends "* OK Still here" every 2 minutes while
 *   idling, other servers nothing, so silence alone proves nothing: the NOOP asks.
 *
 * Issue 19: asking costs three round trips per silent minute per mailbox (~1.2 % of a core per 500
 * Dovecot mailboxes), so an IDLE connection first trusts the server to speak on its own within
 * `keepaliveSilenceMs` (Dovecot: "* OK Still here" every 120 s; any byte counts). A server that
 * keeps that promise is never asked; one that stays silent that long is asked, and from then on
 * that connection is asked after every `idleSilenceMs` of silence, as before.
 * Worst case from a freeze to the connection being given up:
 * max(idleSilenceMs, keepaliveSilenceMs) + probeTimeoutMs (130 + 15 s by default, inside the
 * 3 minutes the acceptance test allows for freeze -> next message stored).
 */
export type ImapLivenessSettings = {
  commandTimeoutMs: number;
  idleSilenceMs: number;
  probeTimeoutMs: number;
  /** How long a server trusted to send keepalives may stay silent before it is asked; <= idleSilenceMs turns trust off. */
  keepaliveSilenceMs?: number;
};

export const DEFAULT_PROBE_TIMEOUT_MS = 15_000;
/** Dovecot's imap_idle_notify_interval (120 s) plus room for a loaded event loop. */
export const DEFAULT_KEEPALIVE_SILENCE_MS = 130_000;

/** Timers and time, injectable so the checks can be tested exactly. */
export type LivenessClock = {
  now: () => number;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
};

/**
 * Every connection's deadlines share one timer wheel (timer-wheel.ts, 1 s resolution, unref'd so a
 * pending check never keeps a stopping process alive): no timer per mailbox.
 */
export const systemClock: LivenessClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => getLivenessWheel().setTimeout(fn, ms),
  clearTimeout: (handle) => getLivenessWheel().clearTimeout(handle),
};

export function livenessFromEnv(env: {
  EMAIL_COMMAND_TIMEOUT_SECONDS: number;
  EMAIL_IDLE_SILENCE_SECONDS: number;
  EMAIL_IDLE_KEEPALIVE_SECONDS?: number;
}): ImapLivenessSettings {
  const commandTimeoutMs = env.EMAIL_COMMAND_TIMEOUT_SECONDS * 1000;
  return {
    commandTimeoutMs,
    idleSilenceMs: env.EMAIL_IDLE_SILENCE_SECONDS * 1000,
    // The probe is one NOOP round trip: shorter than a command, but never longer than one.
    probeTimeoutMs: Math.min(DEFAULT_PROBE_TIMEOUT_MS, commandTimeoutMs),
    keepaliveSilenceMs: env.EMAIL_IDLE_KEEPALIVE_SECONDS === undefined ? DEFAULT_KEEPALIVE_SILENCE_MS : env.EMAIL_IDLE_KEEPALIVE_SECONDS * 1000,
  };
}

/** The longest silence a waiting connection is allowed before it is asked (trusted or not). */
export function longestIdleSilenceMs(settings: ImapLivenessSettings): number {
  return Math.max(settings.idleSilenceMs, settings.keepaliveSilenceMs ?? 0);
}

/**
 * imapflow's own socketTimeout, kept as a backstop behind the checks above. It must stay longer than
 * the longest quiet this module allows (an IDLE silence plus its probe, or a command's silence), or
 * imapflow would tear down a healthy idling connection first; 30 s on top leaves room for timers.
 */
export function imapSocketTimeoutMs(settings: ImapLivenessSettings): number {
  return Math.max(settings.commandTimeoutMs, longestIdleSilenceMs(settings) + settings.probeTimeoutMs) + 30_000;
}

/** When the server last sent a byte: updated from the socket's 'data' events. */
export class ServerActivity {
  private last: number;
  /**
   * Whether waits on this connection trust the server to speak on its own (keepaliveSilenceMs)
   * instead of asking after idleSilenceMs. Cleared for good once the server stays silent that long.
   */
  trustsKeepalive: boolean;

  constructor(
    private readonly clock: Pick<LivenessClock, "now"> = systemClock,
    { trustsKeepalive = false }: { trustsKeepalive?: boolean } = {},
  ) {
    this.last = clock.now();
    this.trustsKeepalive = trustsKeepalive;
  }

  touch(): void {
    this.last = this.clock.now();
  }

  get lastHeardAt(): number {
    return this.last;
  }
}

/**
 * The error that ends a connection nobody answers on; says what the admin sees and that it heals.
 * Worded so components/error-text.ts reads it as "network" (not "reconnect", which means re-auth).
 */
export function noAnswerError(where: string, silentMs: number, during: string): MailError {
  const seconds = Math.round(silentMs / 1000);
  return new MailError(
    "network",
    `No answer from ${where} for ${seconds} s (${during}): the connection was dropped on the way without being closed; trying again.`,
    { cause: new Error(`IMAP silence of ${silentMs} ms during ${during}`) },
  );
}

/**
 * How long until the silence deadline of a wait that began at `startedAt`: the reference is the
 * later of the start and the last byte heard, so bytes that arrived before the command don't count.
 * 0 or less means the deadline has passed.
 */
export function silenceRemainingMs({
  now,
  startedAt,
  lastHeardAt,
  limitMs,
}: {
  now: number;
  startedAt: number;
  lastHeardAt: number;
  limitMs: number;
}): number {
  return Math.max(startedAt, lastHeardAt) + limitMs - now;
}

/**
 * Runs one command. If the server stays silent for `timeoutMs` while it runs, `onTimeout` is called
 * with the error (it must end the connection: the command's late answer could otherwise be read as
 * the next command's) and the returned promise rejects with it. The command's own later settlement
 * is then ignored.
 */
export function withResponseTimeout<T>({
  run,
  timeoutMs,
  activity,
  describeTimeout,
  onTimeout,
  clock = systemClock,
}: {
  run: () => Promise<T>;
  timeoutMs: number;
  activity: Pick<ServerActivity, "lastHeardAt">;
  describeTimeout: (silentMs: number) => MailError;
  onTimeout: (err: MailError) => void;
  clock?: LivenessClock;
}): Promise<T> {
  const startedAt = clock.now();
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer: unknown;
    const check = (): void => {
      if (settled) return;
      const remaining = silenceRemainingMs({ now: clock.now(), startedAt, lastHeardAt: activity.lastHeardAt, limitMs: timeoutMs });
      if (remaining > 0) {
        timer = clock.setTimeout(check, remaining);
        return;
      }
      settled = true;
      const err = describeTimeout(clock.now() - Math.max(startedAt, activity.lastHeardAt));
      onTimeout(err);
      reject(err);
    };
    timer = clock.setTimeout(check, timeoutMs);
    run().then(
      (value) => {
        if (settled) return;
        settled = true;
        clock.clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        clock.clearTimeout(timer);
        reject(err);
      },
    );
  });
}

export type IdleWatchdog = { stop: () => void };

/**
 * Watches a waiting connection (IDLE or a polling wait). After `silenceMs` without a byte from the
 * server (`keepaliveSilenceMs` while `activity.trustsKeepalive`; the first such silence ends the
 * trust) it runs `probe` (a NOOP; under IDLE imapflow sends DONE first) bounded by `probeTimeoutMs`
 * of silence. Answered: `onAlive` (re-enter IDLE) and keep watching. Not answered, or failed:
 * `onDead` once, with the error to report; the caller ends the connection.
 */
export function startIdleWatchdog({
  silenceMs,
  keepaliveSilenceMs = 0,
  probeTimeoutMs,
  activity,
  probe,
  onAlive,
  onDead,
  describeTimeout,
  clock = systemClock,
}: {
  silenceMs: number;
  keepaliveSilenceMs?: number;
  probeTimeoutMs: number;
  activity: Pick<ServerActivity, "lastHeardAt"> & { trustsKeepalive?: boolean };
  probe: () => Promise<unknown>;
  onAlive: () => void;
  onDead: (err: unknown) => void;
  describeTimeout: (silentMs: number) => MailError;
  clock?: LivenessClock;
}): IdleWatchdog {
  let stopped = false;
  let timer: unknown;
  const startedAt = clock.now();
  let watchingSince = startedAt;
  const limitMs = (): number => (activity.trustsKeepalive ? Math.max(silenceMs, keepaliveSilenceMs) : silenceMs);
  const remainingMs = (): number =>
    silenceRemainingMs({ now: clock.now(), startedAt: watchingSince, lastHeardAt: activity.lastHeardAt, limitMs: limitMs() });
  const schedule = (): void => {
    if (stopped) return;
    timer = clock.setTimeout(check, Math.max(0, remainingMs()));
  };
  const check = (): void => {
    if (stopped) return;
    const remaining = remainingMs();
    if (remaining > 0) {
      timer = clock.setTimeout(check, remaining);
      return;
    }
    // Silent past its promise: this server is asked after idleSilenceMs from now on.
    if (activity.trustsKeepalive) activity.trustsKeepalive = false;
    withResponseTimeout({
      run: probe,
      timeoutMs: probeTimeoutMs,
      activity,
      describeTimeout,
      onTimeout: () => {},
      clock,
    }).then(
      () => {
        if (stopped) return;
        watchingSince = clock.now();
        onAlive();
        schedule();
      },
      (err: unknown) => {
        if (stopped) return;
        stopped = true;
        onDead(err);
      },
    );
  };
  schedule();
  return {
    stop: () => {
      stopped = true;
      clock.clearTimeout(timer);
    },
  };
}
