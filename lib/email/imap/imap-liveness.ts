import { MailError } from "@/lib/email/provider";
import { getLivenessWheel } from "@/lib/email/timer-wheel";

/**
 * Live-connection checks for IMAP (issue 13, item 6). A NAT or firewall that drops a flow sends no
 * FIN or RST: the socket stays "open", writes land in kernel buffers and nothing ever comes back.
 * Two checks catch that long before imapflow's socket timeout would:
 * - every command fails once the server has been silent for `commandTimeoutMs` while it runs
 *   (silence, not total time: a long FETCH that keeps streaming is fine);
 * - an IDLE (or a polling wait) that hears nothing for its silence bound is asked, and must answer
 *   within `probeTimeoutMs`: under IDLE with DONE alone (askWaitingServer: the IDLE's tagged OK
 *   proves the path), a polling wait with a NOOP. Dovecot sends "* OK Still here" every 2 minutes
 *   while idling, other servers nothing, so silence alone proves nothing: the question does.
 *
 * Issue 19: asking costs three round trips per silent minute per mailbox (~1.2 % of a core per 500
 * Dovecot mailboxes), so an IDLE connection waits `keepaliveSilenceMs` of silence before it asks
 * (any byte counts, Dovecot's "* OK Still here" every 120 s included); polling waits use
 * `idleSilenceMs`. The default IDLE bound is 130 s less a jitter of at most 8 s, so every bound
 * stays above Dovecot's 120 s and a live Dovecot is never asked: idle cost stays flat (issue 19,
 * 10,000 idle mailboxes under 5 % of a core). Shortening that bound for every connection would
 * ask every Dovecot mailbox once per keepalive (a 95 s bound: +0.9 % of a core per 300,
 * docs/benchmarks.md), so only one connection per server endpoint, its sentinel
 * (endpoint-sentinel.ts), uses the shorter `sentinelSilenceMs` (90 s); a death found on any connection makes every other connection to that
 * endpoint ask at once (askNow). A frozen NAT/firewall/proxy (every flow to the endpoint at once)
 * is so found within ~90 + 10 + 10 s (measured 94 s for the sentinel's mailbox, 105 s for two
 * others, tests/integration/imap-dropped-flow.test.ts); a single flow frozen at a middlebox that
 * still ACKs, when it is not the sentinel's, keeps the bound below.
 * Every connection draws a fixed jitter in [0, silenceJitterMs) taken off its bounds: Dovecot
 * phases "Still here" per client IP, so without it every silent mailbox of one watcher would be
 * asked in the same second.
 * Worst case from a freeze to the connection being given up:
 * max(idleSilenceMs, keepaliveSilenceMs) + probeTimeoutMs (130 + 10 s by default); the first
 * reconnect after that goes at once (MailError retryNow), so freeze -> next message stored stays
 * well under the 3 minutes of the acceptance test.
 * A flow that is really dropped (NAT or firewall state lost: its packets vanish) is found by the
 * kernel, at no cost to the event loop: imapflow turns TCP keepalive on with 5 s idle and libuv
 * (1.46, Node 20) sets 10 probes 1 s apart, so an idle socket fails with ETIMEDOUT ~15 s after the
 * path went (measured 15.1 s, tests/integration/imap-dropped-flow.test.ts, one flow of three
 * blackholed with nftables; the other two untouched). Keepalive cannot see a middlebox that still
 * ACKs (a frozen proxy or relay) nor a socket with unacknowledged data (retransmits run for
 * minutes): the questions and the command timeout are for those.
 */
export type ImapLivenessSettings = {
  commandTimeoutMs: number;
  idleSilenceMs: number;
  probeTimeoutMs: number;
  /** How long an IDLE connection may stay silent before it is asked; <= idleSilenceMs: idleSilenceMs. */
  keepaliveSilenceMs?: number;
  /** Up to this much is taken off each connection's silence bounds (fixed per connection), to spread the questions. */
  silenceJitterMs?: number;
  /**
   * The IDLE bound of each endpoint's sentinel (endpoint-sentinel.ts): one connection per endpoint
   * is asked this often, the others after keepaliveSilenceMs; a death found anywhere asks them all.
   */
  sentinelSilenceMs?: number;
};

/** A NOOP round trip takes milliseconds on a live path; 10 s leaves room for a loaded server or event loop. */
export const DEFAULT_PROBE_TIMEOUT_MS = 10_000;
/** Dovecot's 120 s "Still here" plus room for a loaded event loop: a live Dovecot is never asked. */
export const DEFAULT_KEEPALIVE_SILENCE_MS = 130_000;
/** Small enough that every jittered default bound (122-130 s) stays above Dovecot's 120 s keepalive. */
export const DEFAULT_SILENCE_JITTER_MS = 8_000;
/**
 * The sentinel's bound: 90 s (less jitter) + 10 s its probe + 10 s the others' probe, then an
 * immediate reconnect: a frozen endpoint's mail is stored within 2 minutes (issue 13 item 6).
 */
export const DEFAULT_SENTINEL_SILENCE_MS = 90_000;

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
  EMAIL_PROBE_TIMEOUT_SECONDS?: number;
  EMAIL_IDLE_SILENCE_JITTER_SECONDS?: number;
  EMAIL_IDLE_SENTINEL_SECONDS?: number;
}): ImapLivenessSettings {
  const commandTimeoutMs = env.EMAIL_COMMAND_TIMEOUT_SECONDS * 1000;
  const seconds = (value: number | undefined, fallbackMs: number): number => (value === undefined ? fallbackMs : value * 1000);
  return {
    commandTimeoutMs,
    idleSilenceMs: env.EMAIL_IDLE_SILENCE_SECONDS * 1000,
    // The probe is one NOOP round trip: shorter than a command, but never longer than one.
    probeTimeoutMs: Math.min(seconds(env.EMAIL_PROBE_TIMEOUT_SECONDS, DEFAULT_PROBE_TIMEOUT_MS), commandTimeoutMs),
    keepaliveSilenceMs: seconds(env.EMAIL_IDLE_KEEPALIVE_SECONDS, DEFAULT_KEEPALIVE_SILENCE_MS),
    silenceJitterMs: seconds(env.EMAIL_IDLE_SILENCE_JITTER_SECONDS, DEFAULT_SILENCE_JITTER_MS),
    sentinelSilenceMs: seconds(env.EMAIL_IDLE_SENTINEL_SECONDS, DEFAULT_SENTINEL_SILENCE_MS),
  };
}

/** The longest silence a waiting connection is allowed before it is asked (IDLE or polling; jitter only shortens it). */
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
  /** Whether waits on this connection are IDLE (bound keepaliveSilenceMs) rather than polling waits (idleSilenceMs). */
  readonly trustsKeepalive: boolean;
  /** This connection's share of the jitter, in [0, 1): fixed, so its questions keep their own second. */
  readonly jitterFraction: number;

  constructor(
    private readonly clock: Pick<LivenessClock, "now"> = systemClock,
    { trustsKeepalive = false, jitterFraction = Math.random() }: { trustsKeepalive?: boolean; jitterFraction?: number } = {},
  ) {
    this.last = clock.now();
    this.trustsKeepalive = trustsKeepalive;
    this.jitterFraction = jitterFraction;
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
    // The path died, not the server's will to serve: the first reconnect need not wait a backoff.
    { cause: new Error(`IMAP silence of ${silentMs} ms during ${during}`), retryNow: true },
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

export type IdleWatchdog = {
  stop: () => void;
  /** Ask now (another connection to the same endpoint was found dead); no-op while a question is out. */
  askNow: () => void;
  /** Recompute the deadline (the IDLE bound changed: this connection became its endpoint's sentinel). */
  reschedule: () => void;
};

/**
 * Watches a waiting connection (IDLE or a polling wait). After `silenceMs` without a byte from the
 * server (`keepaliveSilenceMs` under IDLE, `activity.trustsKeepalive`), less this connection's
 * jitter, it runs `probe` (a NOOP; under IDLE imapflow sends DONE first) bounded by `probeTimeoutMs`
 * of silence. Answered: `onAlive` (re-enter IDLE) and keep watching. Not answered, or failed:
 * `onDead` once, with the error to report; the caller ends the connection.
 */
export function startIdleWatchdog({
  silenceMs,
  keepaliveSilenceMs = 0,
  jitterMs = 0,
  probeTimeoutMs,
  activity,
  probe,
  onAlive,
  onDead,
  describeTimeout,
  clock = systemClock,
}: {
  silenceMs: number;
  /** A function when the bound can change while watching (a sentinel's shorter bound). */
  keepaliveSilenceMs?: number | (() => number);
  jitterMs?: number;
  probeTimeoutMs: number;
  activity: Pick<ServerActivity, "lastHeardAt"> & { trustsKeepalive?: boolean; jitterFraction?: number };
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
  let probing = false;
  const baseMs = (): number => {
    const keepalive = typeof keepaliveSilenceMs === "function" ? keepaliveSilenceMs() : keepaliveSilenceMs;
    return activity.trustsKeepalive ? Math.max(silenceMs, keepalive) : silenceMs;
  };
  // Only ever shorter (the detection bound holds), and never by more than half (short test settings).
  const limitMs = (): number => {
    const base = baseMs();
    return base - Math.floor((activity.jitterFraction ?? 0) * Math.min(jitterMs, base / 2));
  };
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
    ask();
  };
  const ask = (): void => {
    probing = true;
    withResponseTimeout({
      run: probe,
      timeoutMs: probeTimeoutMs,
      activity,
      describeTimeout,
      onTimeout: () => {},
      clock,
    }).then(
      () => {
        probing = false;
        if (stopped) return;
        watchingSince = clock.now();
        onAlive();
        schedule();
      },
      (err: unknown) => {
        probing = false;
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
    askNow: () => {
      if (stopped || probing) return;
      clock.clearTimeout(timer);
      ask();
    },
    reschedule: () => {
      if (stopped || probing) return;
      clock.clearTimeout(timer);
      schedule();
    },
  };
}

/** The part of an imapflow client a probe needs (duck-typed: imapflow does not type preCheck or currentRequest). */
export type ProbeTarget = {
  /** The command on the wire; "IDLE" while a real IDLE runs (the polling fallback sends nothing). */
  currentRequest?: { command?: string } | null;
  /** Set by imapflow while IDLE runs: sends DONE. */
  preCheck?: unknown;
  noop: () => Promise<unknown>;
};

/**
 * Asks a waiting server whether the path is alive, as cheaply as it can. Under a real IDLE it
 * sends only DONE and waits for the IDLE's tagged OK (`runningIdle`, the promise of the
 * client.idle() this connection started): that answer proves the path both ways, so the NOOP
 * imapflow would send after it is dropped. This saves a round trip and, on Dovecot, the NOOP's
 * mailbox sync (most of what asking used to cost, docs/benchmarks.md). The caller re-enters
 * IDLE. Anything else (no IDLE of ours on the wire, the polling fallback, whose break answers
 * without asking the server) asks with a NOOP. Returns which question went out.
 */
export async function askWaitingServer(target: ProbeTarget, runningIdle: Promise<unknown> | null): Promise<"done" | "noop"> {
  if (runningIdle && target.currentRequest?.command === "IDLE" && typeof target.preCheck === "function") {
    // Its failure (a closed socket) also ends the IDLE, which settles runningIdle.
    (target.preCheck as () => Promise<unknown>).call(target).catch(() => {});
    await runningIdle;
    return "done";
  }
  await target.noop();
  return "noop";
}
