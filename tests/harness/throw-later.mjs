// Preloaded into a watcher process by tests (NODE_OPTIONS=--import ...): on SIGUSR2 it throws from
// a timer callback, i.e. an exception no code path catches, to exercise the process's
// uncaughtException handling once the watcher is up. Never loaded outside tests.
/* global setImmediate */
process.on("SIGUSR2", () => {
  setImmediate(() => {
    throw new Error("injected by tests/harness/throw-later.mjs");
  });
});
