import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { stopOnSignal } from "./stop-on-signal";

type Line = [string, Record<string, unknown>, string];

function harness(stop: () => Promise<void>): { shutdown: (signal: string) => void; lines: Line[]; exits: number[]; stops: () => number } {
  const lines: Line[] = [];
  const exits: number[] = [];
  let stopCalls = 0;
  const log = {
    info: (obj: Record<string, unknown>, msg: string) => void lines.push(["info", obj, msg]),
    error: (obj: Record<string, unknown>, msg: string) => void lines.push(["error", obj, msg]),
  } as never;
  const shutdown = stopOnSignal({
    name: "watcher",
    log,
    stop: () => (stopCalls++, stop()),
    graceMs: 60_000,
    exit: (code) => void exits.push(code),
  });
  return { shutdown, lines, exits, stops: () => stopCalls };
}

describe("stopOnSignal", () => {
  const before = { SIGTERM: process.listeners("SIGTERM"), SIGINT: process.listeners("SIGINT") };
  afterEach(() => {
    // Take back the handlers the tests registered, so the test runner's own signals behave as usual.
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      for (const l of process.listeners(signal)) if (!before[signal].includes(l)) process.removeListener(signal, l);
    }
  });

  it("registers SIGTERM and SIGINT, stops once however many signals come, and exits 0", async () => {
    const t = harness(async () => {});
    assert.equal(process.listeners("SIGTERM").length, before.SIGTERM.length + 1);
    assert.equal(process.listeners("SIGINT").length, before.SIGINT.length + 1);
    t.shutdown("SIGTERM");
    t.shutdown("SIGINT");
    await new Promise((r) => setImmediate(r));
    assert.equal(t.stops(), 1);
    assert.deepEqual(t.exits, [0]);
    assert.deepEqual(t.lines, [["info", { signal: "SIGTERM" }, "watcher stopping"]]);
  });

  it("exits 1 and logs the error when stopping fails", async () => {
    const err = new Error("pool closed twice");
    const t = harness(async () => {
      throw err;
    });
    t.shutdown("SIGINT");
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(t.exits, [1]);
    assert.deepEqual(t.lines, [
      ["info", { signal: "SIGINT" }, "watcher stopping"],
      ["error", { err }, "watcher stop failed"],
    ]);
  });
});
