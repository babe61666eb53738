import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  askWaitingServer,
  imapSocketTimeoutMs,
  livenessFromEnv,
  noAnswerError,
  ServerActivity,
  silenceRemainingMs,
  startIdleWatchdog,
  withResponseTimeout,
  type LivenessClock,
} from "./imap-liveness";
import { MailError } from "@/lib/email/provider";

/** A clock whose time moves only when the test says so; due timers run in time order. */
function fakeClock(): LivenessClock & { advance: (ms: number) => Promise<void>; pending: () => number } {
  let now = 1_000_000;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const flush = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      seq += 1;
      timers.set(seq, { at: now + ms, fn });
      return seq;
    },
    clearTimeout: (handle) => void timers.delete(handle as number),
    pending: () => timers.size,
    advance: async (ms) => {
      const end = now + ms;
      for (;;) {
        await flush();
        const next = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
        if (!next) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fn();
      }
      now = end;
      await flush();
    },
  };
}

const describeTimeout = (ms: number): MailError => noAnswerError("mail.test:143", ms, "a command");

describe("livenessFromEnv / imapSocketTimeoutMs", () => {
  it("derives the probe timeout and a socket backstop longer than every allowed quiet", () => {
    const defaults = livenessFromEnv({ EMAIL_COMMAND_TIMEOUT_SECONDS: 30, EMAIL_IDLE_SILENCE_SECONDS: 60 });
    assert.deepEqual(defaults, { commandTimeoutMs: 30_000, idleSilenceMs: 60_000, probeTimeoutMs: 10_000, keepaliveSilenceMs: 130_000, silenceJitterMs: 8000, sentinelSilenceMs: 90_000 });
    // The longest allowed quiet is an IDLE connection's 130 s plus the probe.
    assert.equal(imapSocketTimeoutMs(defaults), 170_000);
    const short = livenessFromEnv({ EMAIL_COMMAND_TIMEOUT_SECONDS: 5, EMAIL_IDLE_SILENCE_SECONDS: 10, EMAIL_IDLE_KEEPALIVE_SECONDS: 10 });
    assert.deepEqual(short, { commandTimeoutMs: 5000, idleSilenceMs: 10_000, probeTimeoutMs: 5000, keepaliveSilenceMs: 10_000, silenceJitterMs: 8000, sentinelSilenceMs: 90_000 });
    // The operator's faster setting (~100 s detection, asks Dovecot once per keepalive).
    const fast = livenessFromEnv({ EMAIL_COMMAND_TIMEOUT_SECONDS: 30, EMAIL_IDLE_SILENCE_SECONDS: 60, EMAIL_IDLE_KEEPALIVE_SECONDS: 95 });
    assert.equal(imapSocketTimeoutMs(fast), 135_000);
    // The issue-19 setting, for comparisons.
    const old = livenessFromEnv({
      EMAIL_COMMAND_TIMEOUT_SECONDS: 30,
      EMAIL_IDLE_SILENCE_SECONDS: 60,
      EMAIL_IDLE_KEEPALIVE_SECONDS: 130,
      EMAIL_PROBE_TIMEOUT_SECONDS: 15,
      EMAIL_IDLE_SILENCE_JITTER_SECONDS: 0,
    });
    assert.deepEqual(old, { commandTimeoutMs: 30_000, idleSilenceMs: 60_000, probeTimeoutMs: 15_000, keepaliveSilenceMs: 130_000, silenceJitterMs: 0, sentinelSilenceMs: 90_000 });
    assert.equal(livenessFromEnv({ EMAIL_COMMAND_TIMEOUT_SECONDS: 4, EMAIL_IDLE_SILENCE_SECONDS: 60, EMAIL_PROBE_TIMEOUT_SECONDS: 10 }).probeTimeoutMs, 4000);
    assert.equal(imapSocketTimeoutMs(short), 45_000);
    assert.equal(imapSocketTimeoutMs({ commandTimeoutMs: 120_000, idleSilenceMs: 10_000, probeTimeoutMs: 5000 }), 150_000);
  });
});

describe("noAnswerError", () => {
  it("is a network error naming the server, the silence and that it heals; stored with code network", () => {
    const err = noAnswerError("mail.test:143", 75_400, "IDLE check");
    assert.equal(err.code, "network");
    assert.equal(
      err.message,
      "No answer from mail.test:143 for 75 s (IDLE check): the connection was dropped on the way without being closed; trying again.",
    );
    // The path died: the watcher's first reconnect goes without a backoff.
    assert.equal(err.options.retryNow, true);
  });
});

describe("silenceRemainingMs", () => {
  it("counts from the later of the start and the last byte heard", () => {
    assert.equal(silenceRemainingMs({ now: 100, startedAt: 50, lastHeardAt: 10, limitMs: 60 }), 10);
    assert.equal(silenceRemainingMs({ now: 100, startedAt: 50, lastHeardAt: 90, limitMs: 60 }), 50);
    assert.equal(silenceRemainingMs({ now: 200, startedAt: 50, lastHeardAt: 90, limitMs: 60 }), -50);
  });
});

describe("withResponseTimeout", () => {
  it("resolves with the command's value and leaves no timer behind", async () => {
    const clock = fakeClock();
    const activity = new ServerActivity(clock);
    const result = withResponseTimeout({ run: async () => 42, timeoutMs: 30_000, activity, describeTimeout, onTimeout: () => assert.fail(), clock });
    assert.equal(await result, 42);
    assert.equal(clock.pending(), 0);
  });

  it("passes the command's own error through unchanged", async () => {
    const clock = fakeClock();
    const boom = new Error("NO [NONEXISTENT]");
    const result = withResponseTimeout({
      run: () => Promise.reject(boom),
      timeoutMs: 30_000,
      activity: new ServerActivity(clock),
      describeTimeout,
      onTimeout: () => assert.fail(),
      clock,
    });
    await assert.rejects(result, (err) => err === boom);
    assert.equal(clock.pending(), 0);
  });

  it("fails after exactly the silence limit, ends the connection once and ignores the late answer", async () => {
    const clock = fakeClock();
    const activity = new ServerActivity(clock);
    const timeouts: MailError[] = [];
    let answer: (v: string) => void = () => {};
    const result = withResponseTimeout({
      run: () => new Promise<string>((r) => (answer = r)),
      timeoutMs: 30_000,
      activity,
      describeTimeout,
      onTimeout: (err) => timeouts.push(err),
      clock,
    });
    const seen: { outcome: unknown } = { outcome: "pending" };
    const readOutcome = (): unknown => seen.outcome;
    result.catch((err: unknown) => (seen.outcome = err));
    await clock.advance(29_999);
    assert.equal(readOutcome(), "pending");
    await clock.advance(1);
    const outcome = readOutcome();
    assert.ok(outcome instanceof MailError);
    assert.equal(outcome.code, "network");
    assert.equal(outcome.message, "No answer from mail.test:143 for 30 s (a command): the connection was dropped on the way without being closed; trying again.");
    assert.equal(timeouts.length, 1);
    assert.equal(timeouts[0], outcome);
    answer("late");
    await clock.advance(60_000);
    assert.equal(timeouts.length, 1);
  });

  it("keeps a command alive while the server keeps sending (a long FETCH)", async () => {
    const clock = fakeClock();
    const activity = new ServerActivity(clock);
    let answer: (v: string) => void = () => {};
    let timedOut = 0;
    const result = withResponseTimeout({
      run: () => new Promise<string>((r) => (answer = r)),
      timeoutMs: 30_000,
      activity,
      describeTimeout,
      onTimeout: () => (timedOut += 1),
      clock,
    });
    // Bytes every 20 s for 2 minutes: never 30 s of silence.
    for (let i = 0; i < 6; i++) {
      await clock.advance(20_000);
      activity.touch();
    }
    assert.equal(timedOut, 0);
    answer("done");
    assert.equal(await result, "done");
    // Then silence: the next command's limit counts from its own start.
    const next = withResponseTimeout({ run: () => new Promise<void>(() => {}), timeoutMs: 30_000, activity, describeTimeout, onTimeout: () => (timedOut += 1), clock });
    next.catch(() => {});
    await clock.advance(29_999);
    assert.equal(timedOut, 0);
    await clock.advance(1);
    assert.equal(timedOut, 1);
  });
});

describe("startIdleWatchdog", () => {
  const idleTimeout = (ms: number): MailError => noAnswerError("mail.test:143", ms, "IDLE check");

  it("leaves a connection alone while the server speaks (Dovecot's 'Still here')", async () => {
    const clock = fakeClock();
    const activity = new ServerActivity(clock);
    let probes = 0;
    const watchdog = startIdleWatchdog({
      silenceMs: 60_000,
      probeTimeoutMs: 15_000,
      activity,
      probe: async () => void (probes += 1),
      onAlive: () => {},
      onDead: () => assert.fail("not dead"),
      describeTimeout: idleTimeout,
      clock,
    });
    for (let i = 0; i < 10; i++) {
      await clock.advance(59_000);
      activity.touch();
    }
    assert.equal(probes, 0);
    watchdog.stop();
    assert.equal(clock.pending(), 0);
  });

  it("probes after the silence, re-enters IDLE when answered, and probes again after the next silence", async () => {
    const clock = fakeClock();
    const activity = new ServerActivity(clock);
    const log: string[] = [];
    const watchdog = startIdleWatchdog({
      silenceMs: 60_000,
      probeTimeoutMs: 15_000,
      activity,
      probe: async () => {
        log.push(`probe@${clock.now() - 1_000_000}`);
        activity.touch(); // the NOOP's answer
      },
      onAlive: () => log.push(`alive@${clock.now() - 1_000_000}`),
      onDead: () => assert.fail("not dead"),
      describeTimeout: idleTimeout,
      clock,
    });
    await clock.advance(59_999);
    assert.deepEqual(log, []);
    await clock.advance(1);
    assert.deepEqual(log, ["probe@60000", "alive@60000"]);
    await clock.advance(60_000);
    assert.deepEqual(log, ["probe@60000", "alive@60000", "probe@120000", "alive@120000"]);
    watchdog.stop();
  });

  it("askNow asks at once (once while a question is out); reschedule follows a bound that got shorter", async () => {
    const clock = fakeClock();
    const activity = new ServerActivity(clock, { trustsKeepalive: true, jitterFraction: 0 });
    const log: string[] = [];
    let boundMs = 130_000;
    let answer = (): void => {};
    const watchdog = startIdleWatchdog({
      silenceMs: 60_000,
      keepaliveSilenceMs: () => boundMs,
      probeTimeoutMs: 10_000,
      activity,
      probe: () =>
        new Promise<void>((resolve) => {
          log.push(`probe@${clock.now() - 1_000_000}`);
          answer = () => {
            activity.touch();
            resolve();
          };
        }),
      onAlive: () => log.push(`alive@${clock.now() - 1_000_000}`),
      onDead: () => assert.fail("not dead"),
      describeTimeout: idleTimeout,
      clock,
    });
    await clock.advance(20_000);
    watchdog.askNow();
    watchdog.askNow(); // a second "ask" while the first is out sends nothing more
    await clock.advance(1000);
    answer();
    await clock.advance(0);
    assert.deepEqual(log, ["probe@20000", "alive@21000"]);
    // Became the endpoint's sentinel: 90 s from the last answer (21 s), not 130 s.
    boundMs = 90_000;
    watchdog.reschedule();
    await clock.advance(89_999);
    assert.deepEqual(log, ["probe@20000", "alive@21000"]);
    await clock.advance(1);
    assert.deepEqual(log, ["probe@20000", "alive@21000", "probe@111000"]);
    watchdog.stop();
    watchdog.askNow(); // stopped: nothing
    assert.equal(log.length, 3);
  });

  it("declares a silent server dead after silence + probe timeout, once", async () => {
    const clock = fakeClock();
    const activity = new ServerActivity(clock);
    const dead: unknown[] = [];
    let probes = 0;
    startIdleWatchdog({
      silenceMs: 60_000,
      probeTimeoutMs: 15_000,
      activity,
      probe: () => {
        probes += 1;
        return new Promise(() => {}); // DONE + NOOP into a frozen path: never answered
      },
      onAlive: () => assert.fail("not alive"),
      onDead: (err) => dead.push(err),
      describeTimeout: idleTimeout,
      clock,
    });
    await clock.advance(74_999);
    assert.equal(dead.length, 0);
    await clock.advance(1);
    assert.equal(probes, 1);
    assert.equal(dead.length, 1);
    const err = dead[0];
    assert.ok(err instanceof MailError);
    assert.equal(err.message, "No answer from mail.test:143 for 15 s (IDLE check): the connection was dropped on the way without being closed; trying again.");
    await clock.advance(600_000);
    assert.equal(dead.length, 1);
    assert.equal(probes, 1);
    assert.equal(clock.pending(), 0);
  });

  it("reports a failed probe (the connection closed under it) as dead", async () => {
    const clock = fakeClock();
    const closed = new Error("Connection not available");
    const dead: unknown[] = [];
    startIdleWatchdog({
      silenceMs: 10_000,
      probeTimeoutMs: 5000,
      activity: new ServerActivity(clock),
      probe: () => Promise.reject(closed),
      onAlive: () => assert.fail("not alive"),
      onDead: (err) => dead.push(err),
      describeTimeout: idleTimeout,
      clock,
    });
    await clock.advance(10_000);
    assert.deepEqual(dead, [closed]);
  });

  it("does nothing after stop(), even with a probe in flight", async () => {
    const clock = fakeClock();
    let answer: () => void = () => {};
    const calls: string[] = [];
    const watchdog = startIdleWatchdog({
      silenceMs: 10_000,
      probeTimeoutMs: 5000,
      activity: new ServerActivity(clock),
      probe: () => new Promise<void>((r) => (answer = r)),
      onAlive: () => calls.push("alive"),
      onDead: () => calls.push("dead"),
      describeTimeout: idleTimeout,
      clock,
    });
    await clock.advance(10_000);
    watchdog.stop();
    answer();
    await clock.advance(60_000);
    assert.deepEqual(calls, []);
  });

  it("trusts a server that speaks on its own: never asked while it says 'Still here' every 120 s", async () => {
    const clock = fakeClock();
    const activity = new ServerActivity(clock, { trustsKeepalive: true });
    let probes = 0;
    const watchdog = startIdleWatchdog({
      silenceMs: 60_000,
      keepaliveSilenceMs: 130_000,
      probeTimeoutMs: 15_000,
      activity,
      probe: async () => void (probes += 1),
      onAlive: () => {},
      onDead: () => assert.fail("not dead"),
      describeTimeout: idleTimeout,
      clock,
    });
    for (let i = 0; i < 10; i++) {
      await clock.advance(120_000);
      activity.touch();
    }
    assert.equal(probes, 0);
    assert.equal(activity.trustsKeepalive, true);
    watchdog.stop();
  });

  it("asks an IDLE server that stays silent past the keepalive window, every window (not every idle silence); a frozen one is dead after window + probe", async () => {
    const clock = fakeClock();
    const activity = new ServerActivity(clock, { trustsKeepalive: true });
    const log: string[] = [];
    let answering = true;
    const dead: unknown[] = [];
    startIdleWatchdog({
      silenceMs: 60_000,
      keepaliveSilenceMs: 130_000,
      probeTimeoutMs: 15_000,
      activity,
      probe: () => {
        log.push(`probe@${clock.now() - 1_000_000}`);
        if (!answering) return new Promise(() => {});
        activity.touch();
        return Promise.resolve();
      },
      onAlive: () => log.push(`alive@${clock.now() - 1_000_000}`),
      onDead: (err) => dead.push(err),
      describeTimeout: idleTimeout,
      clock,
    });
    await clock.advance(129_999);
    assert.deepEqual(log, []);
    await clock.advance(1);
    assert.deepEqual(log, ["probe@130000", "alive@130000"]);
    // Issue 13: a silent server is no longer asked every idle silence (60 s) from then on.
    assert.equal(activity.trustsKeepalive, true);
    await clock.advance(129_999);
    assert.deepEqual(log, ["probe@130000", "alive@130000"]);
    await clock.advance(1);
    assert.deepEqual(log, ["probe@130000", "alive@130000", "probe@260000", "alive@260000"]);
    answering = false;
    await clock.advance(130_000 + 14_999);
    assert.deepEqual(log, ["probe@130000", "alive@130000", "probe@260000", "alive@260000", "probe@390000"]);
    assert.equal(dead.length, 0);
    await clock.advance(1);
    assert.equal(dead.length, 1);
    assert.match((dead[0] as Error).message, /for 15 s/);
  });

  /** When an always-answering server is asked, in ms after the watch began; `speaksEveryMs`: it also sends a keepalive that often. */
  const probeTimes = async ({
    jitterMs = 0,
    fraction = 0,
    trusts,
    forMs = 200_000,
    speaksEveryMs,
    ...bound
  }: {
    silenceMs: number;
    keepaliveSilenceMs?: number;
    jitterMs?: number;
    fraction?: number;
    trusts: boolean;
    forMs?: number;
    speaksEveryMs?: number;
  }): Promise<number[]> => {
    const clock = fakeClock();
    const activity = new ServerActivity(clock, { trustsKeepalive: trusts, jitterFraction: fraction });
    const log: number[] = [];
    const watchdog = startIdleWatchdog({
      ...bound,
      jitterMs,
      probeTimeoutMs: 10_000,
      activity,
      probe: async () => {
        log.push(clock.now() - 1_000_000);
        activity.touch();
      },
      onAlive: () => {},
      onDead: () => assert.fail("not dead"),
      describeTimeout: idleTimeout,
      clock,
    });
    const step = speaksEveryMs ?? forMs;
    for (let at = step; at <= forMs; at += step) {
      await clock.advance(step);
      if (speaksEveryMs) activity.touch();
    }
    watchdog.stop();
    return log;
  };

  it("defaults: a Dovecot saying 'Still here' every 120 s is never asked, whatever a connection's jitter; a silent one is asked at 122-130 s", async () => {
    const { keepaliveSilenceMs, silenceJitterMs, idleSilenceMs } = livenessFromEnv({ EMAIL_COMMAND_TIMEOUT_SECONDS: 30, EMAIL_IDLE_SILENCE_SECONDS: 60 });
    const bound = { silenceMs: idleSilenceMs, keepaliveSilenceMs, jitterMs: silenceJitterMs, trusts: true };
    for (const fraction of [0, 0.5, 0.999]) {
      assert.deepEqual(await probeTimes({ ...bound, fraction, speaksEveryMs: 120_000, forMs: 1_200_000 }), [], `jitter fraction ${fraction}`);
    }
    assert.deepEqual(await probeTimes({ ...bound, fraction: 0, forMs: 130_000 }), [130_000]);
    assert.deepEqual(await probeTimes({ ...bound, fraction: 0.999, forMs: 130_000 }), [122_008]);
  });

  it("a keepalive window at or below the idle silence changes nothing (trust off in effect)", async () => {
    assert.deepEqual(await probeTimes({ silenceMs: 60_000, keepaliveSilenceMs: 30_000, trusts: true, forMs: 120_000 }), [60_000, 120_000]);
  });

  it("takes each connection's fixed share of the jitter off its bound, at most half the bound", async () => {
    // The 95 s operator setting under IDLE, with a 15 s jitter: 95 s less 0.5 x 15 s.
    assert.deepEqual(await probeTimes({ silenceMs: 60_000, keepaliveSilenceMs: 95_000, jitterMs: 15_000, fraction: 0.5, trusts: true }), [87_500, 175_000]);
    assert.deepEqual(await probeTimes({ silenceMs: 60_000, keepaliveSilenceMs: 95_000, jitterMs: 15_000, fraction: 0, trusts: true }), [95_000, 190_000]);
    // Polling waits: 60 s less 0.999 x 15 s (floored to whole ms).
    assert.deepEqual(
      await probeTimes({ silenceMs: 60_000, keepaliveSilenceMs: 95_000, jitterMs: 15_000, fraction: 0.999, trusts: false }),
      [45_015, 90_030, 135_045, 180_060],
    );
    // A jitter longer than half the bound takes at most half: 10 s less 0.8 x 5 s.
    assert.deepEqual(
      await probeTimes({ silenceMs: 10_000, jitterMs: 15_000, fraction: 0.8, trusts: false }),
      Array.from({ length: 33 }, (_, i) => (i + 1) * 6000),
    );
  });
});

describe("askWaitingServer", () => {
  /** An imapflow-shaped client that records what goes on the wire. */
  function fakeTarget(command: string | undefined): { wire: string[]; idleEnded: Promise<void>; target: Parameters<typeof askWaitingServer>[0] } {
    const wire: string[] = [];
    let endIdle = (): void => {};
    const idleEnded = new Promise<void>((resolve) => (endIdle = resolve));
    return {
      wire,
      idleEnded,
      target: {
        currentRequest: command === undefined ? null : { command },
        preCheck: async () => {
          wire.push("DONE");
          // The server's tagged OK for the IDLE arrives a tick later.
          setImmediate(() => {
            wire.push("OK IDLE");
            endIdle();
          });
        },
        noop: async () => void wire.push("NOOP"),
      },
    };
  }

  it("under a real IDLE sends only DONE and waits for the IDLE's tagged OK", async () => {
    const { wire, idleEnded, target } = fakeTarget("IDLE");
    assert.equal(await askWaitingServer(target, idleEnded), "done");
    assert.deepEqual(wire, ["DONE", "OK IDLE"]);
  });

  it("does not answer before the IDLE's tagged OK: a path that dropped DONE never looks alive", async () => {
    const { wire, target } = fakeTarget("IDLE");
    const never = new Promise<void>(() => {});
    let settled = false;
    void askWaitingServer({ ...target, preCheck: async () => void wire.push("DONE") }, never).then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(settled, false);
    assert.deepEqual(wire, ["DONE"]);
  });

  it("asks with NOOP when no IDLE of ours is on the wire (polling fallback, IDLE already ended, another command)", async () => {
    for (const [command, running] of [
      [undefined, true],
      ["IDLE", false],
      ["FETCH", true],
    ] as const) {
      const { wire, idleEnded, target } = fakeTarget(command);
      assert.equal(await askWaitingServer(target, running ? idleEnded : null), "noop");
      assert.deepEqual(wire, ["NOOP"], `${command} ${running}`);
    }
    // imapflow's polling fallback installs a preCheck that answers without asking the server.
    const { wire, idleEnded, target } = fakeTarget(undefined);
    assert.equal(await askWaitingServer({ ...target, preCheck: async () => void wire.push("cancel poll") }, idleEnded), "noop");
    assert.deepEqual(wire, ["NOOP"]);
  });
});
