import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MailError } from "@/lib/email/provider";
import { nextApiStep, obtainAccessToken, runApiCall, type ApiAttempt, type ApiUsage, type RetryPolicy } from "./api-call";

const service = { vendor: "Google", api: "Gmail", logName: "gmail" };
const policy: RetryPolicy = { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 30_000, maxRetryAfterMs: 60_000 };
const throttled = { kind: "retry", code: "rate_limited", message: "slow down", cause: { status: 429 } } as const;

function thrown(step: ReturnType<typeof nextApiStep>): MailError {
  assert.equal(step.action, "throw");
  return (step as { error: MailError }).error;
}

describe("nextApiStep", () => {
  it("refreshes the token once on 401, then asks for reauth", () => {
    assert.deepEqual(nextApiStep({ kind: "unauthorized", cause: "c" }, { attempt: 1, refreshed: false, policy, service }), { action: "refresh" });
    const error = thrown(nextApiStep({ kind: "unauthorized", cause: "c" }, { attempt: 1, refreshed: true, policy, service }));
    assert.equal(error.code, "needs_reauth");
    assert.equal(error.message, "Google rejected the access token even after a refresh; reconnect the mailbox.");
  });

  it("throws a fatal error as it is", () => {
    const fatal = new MailError("config", "not enabled");
    assert.equal(thrown(nextApiStep({ kind: "fatal", error: fatal }, { attempt: 1, refreshed: false, policy, service })), fatal);
  });

  it("sleeps for Retry-After while tries are left", () => {
    assert.deepEqual(nextApiStep({ ...throttled, retryAfterMs: 2500 }, { attempt: 2, refreshed: false, policy, service }), {
      action: "sleep",
      delayMs: 2500,
    });
  });

  it("backs off with half jitter without Retry-After", () => {
    const step = nextApiStep(throttled, { attempt: 2, refreshed: false, policy, service });
    assert.equal(step.action, "sleep");
    const delay = (step as { delayMs: number }).delayMs;
    // attempt 2: 1000 * 2 = 2000, half of it fixed, half random.
    assert.ok(delay >= 1000 && delay <= 2000, `delay ${delay}`);
  });

  it("gives up after maxAttempts with the failure's code, message and Retry-After", () => {
    const error = thrown(nextApiStep({ ...throttled, retryAfterMs: 2500 }, { attempt: 3, refreshed: false, policy, service }));
    assert.equal(error.code, "rate_limited");
    assert.equal(error.message, "slow down");
    assert.equal(error.options.retryAfterMs, 2500);
  });

  it("does not sleep through a Retry-After above maxRetryAfterMs", () => {
    const error = thrown(nextApiStep({ ...throttled, retryAfterMs: 60_001 }, { attempt: 1, refreshed: false, policy, service }));
    assert.equal(error.code, "rate_limited");
    assert.equal(error.options.retryAfterMs, 60_001);
  });
});

describe("obtainAccessToken", () => {
  it("passes forceRefresh only when asked and wraps a plain failure as network", async () => {
    const seen: unknown[] = [];
    const get = async (opts?: { forceRefresh?: boolean }): Promise<string> => {
      seen.push(opts);
      return "t";
    };
    assert.equal(await obtainAccessToken(get, false, service), "t");
    assert.equal(await obtainAccessToken(get, true, service), "t");
    assert.deepEqual(seen, [undefined, { forceRefresh: true }]);
    await assert.rejects(
      obtainAccessToken(() => Promise.reject(new Error("boom")), false, service),
      (err: unknown) => err instanceof MailError && err.code === "network" && err.message === "Could not obtain a Google access token.",
    );
    const reauth = new MailError("needs_reauth", "grant revoked");
    await assert.rejects(obtainAccessToken(() => Promise.reject(reauth), false, service), (err: unknown) => err === reauth);
  });
});

describe("runApiCall", () => {
  function run(outcomes: ApiAttempt<string>[], usage: ApiUsage, tokens: unknown[], signal = new AbortController().signal): Promise<string> {
    return runApiCall<string>({
      service,
      policy: { ...policy, baseDelayMs: 1, maxDelayMs: 1 },
      signal,
      usage,
      units: 5,
      getAccessToken: async (opts) => {
        tokens.push(opts);
        return "t";
      },
      attempt: async () => outcomes.shift() ?? { kind: "done", value: "end" },
      classifyThrown: () => throttled,
      logFields: { method: "m" },
    });
  }

  it("retries a 401 once with a refreshed token without using up a try, then throttling up to maxAttempts", async () => {
    const usage = { calls: 0, quotaUnits: 0 };
    const tokens: unknown[] = [];
    const value = await run([{ kind: "unauthorized", cause: null }, throttled, throttled, { kind: "done", value: "ok" }], usage, tokens);
    assert.equal(value, "ok");
    assert.deepEqual(usage, { calls: 4, quotaUnits: 20 });
    assert.deepEqual(tokens, [undefined, { forceRefresh: true }, { forceRefresh: true }, { forceRefresh: true }]);
  });

  it("stops at maxAttempts", async () => {
    const usage = { calls: 0, quotaUnits: 0 };
    await assert.rejects(run([throttled, throttled, throttled, { kind: "done", value: "late" }], usage, []), (err: unknown) => {
      return err instanceof MailError && err.code === "rate_limited";
    });
    assert.deepEqual(usage, { calls: 3, quotaUnits: 15 });
  });

  it("makes no call once the signal is aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    const usage = { calls: 0, quotaUnits: 0 };
    await assert.rejects(run([], usage, [], controller.signal), (err: unknown) => {
      return err instanceof MailError && err.code === "network" && err.message === "The Gmail connection was closed.";
    });
    assert.deepEqual(usage, { calls: 0, quotaUnits: 0 });
  });
});
