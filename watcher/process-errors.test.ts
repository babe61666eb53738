import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createUncaughtExceptionHandler, handleUnhandledRejection, type ProcessErrorKind } from "./process-errors";

function recorder(): {
  events: string[];
  log: { error: (obj: { event: string }) => void; fatal: (obj: { event: string }) => void };
  count: (kind: ProcessErrorKind) => void;
} {
  const events: string[] = [];
  return {
    events,
    log: {
      error: (obj) => void events.push(`error:${obj.event}`),
      fatal: (obj) => void events.push(`fatal:${obj.event}`),
    },
    count: (kind) => void events.push(`count:${kind}`),
  };
}

describe("handleUnhandledRejection", () => {
  it("counts and logs with a stable event name, and does not exit", () => {
    const r = recorder();
    handleUnhandledRejection(new Error("stray"), { log: r.log as never, count: r.count });
    assert.deepEqual(r.events, ["count:unhandled_rejection", "error:unhandled_rejection"]);
  });
});

describe("createUncaughtExceptionHandler", () => {
  it("counts, logs fatal, shuts down and then exits 1", async () => {
    const r = recorder();
    let finishShutdown: () => void = () => {};
    const timers: number[] = [];
    const handler = createUncaughtExceptionHandler({
      log: r.log as never,
      count: r.count,
      shutdown: () => {
        r.events.push("shutdown");
        return new Promise<void>((resolve) => (finishShutdown = resolve));
      },
      exit: (code) => void r.events.push(`exit:${code}`),
      shutdownTimeoutMs: 5000,
      setTimer: (_fn, ms) => void timers.push(ms),
    });
    handler(new TypeError("x is undefined"));
    assert.deepEqual(r.events, ["count:uncaught_exception", "fatal:uncaught_exception", "shutdown"]);
    assert.deepEqual(timers, [5000]);
    finishShutdown();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(r.events.slice(3), ["exit:1"]);
  });

  it("exits 1 when the shutdown fails, and at once on a second exception", async () => {
    const r = recorder();
    const handler = createUncaughtExceptionHandler({
      log: r.log as never,
      count: r.count,
      shutdown: () => new Promise<void>(() => {}),
      exit: (code) => void r.events.push(`exit:${code}`),
      shutdownTimeoutMs: 5000,
      setTimer: () => {},
    });
    handler(new Error("first"));
    handler(new Error("second, thrown by the shutdown"));
    assert.deepEqual(r.events, [
      "count:uncaught_exception",
      "fatal:uncaught_exception",
      "count:uncaught_exception",
      "fatal:uncaught_exception",
      "exit:1",
    ]);
    const failing = recorder();
    const onFailing = createUncaughtExceptionHandler({
      log: failing.log as never,
      count: failing.count,
      shutdown: () => Promise.reject(new Error("db gone")),
      exit: (code) => void failing.events.push(`exit:${code}`),
      shutdownTimeoutMs: 5000,
      setTimer: () => {},
    });
    onFailing(new Error("boom"));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(failing.events, ["count:uncaught_exception", "fatal:uncaught_exception", "error:shutdown_failed", "exit:1"]);
  });

  it("exits 1 after the timeout when the shutdown hangs", () => {
    const r = recorder();
    const pending: { fn?: () => void } = {};
    const handler = createUncaughtExceptionHandler({
      log: r.log as never,
      count: r.count,
      shutdown: () => new Promise<void>(() => {}),
      exit: (code) => void r.events.push(`exit:${code}`),
      shutdownTimeoutMs: 5000,
      setTimer: (fn) => void (pending.fn = fn),
    });
    handler(new Error("boom"));
    assert.equal(r.events.includes("exit:1"), false);
    pending.fn?.();
    assert.deepEqual(r.events.slice(-1), ["exit:1"]);
  });
});
