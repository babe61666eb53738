// Preloaded into a watcher process by tests (NODE_OPTIONS=--import ...): throws from a timer
// callback after THROW_LATER_MS, i.e. an exception no code path catches, to exercise the process's
// uncaughtException handling. Never loaded outside tests.
const ms = Number(process.env.THROW_LATER_MS ?? 0);
if (ms > 0) {
  setTimeout(() => {
    throw new Error("injected by tests/harness/throw-later.mjs");
  }, ms).unref();
}
