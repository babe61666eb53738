import assert from "node:assert/strict";
import { test } from "node:test";
import { nextWebhookAttemptAt } from "./retry-policy";

const policy = { baseMs: 30_000, maxMs: 3_600_000, windowMs: 86_400_000 };
const start = new Date("2026-01-01T00:00:00Z");

test("doubles from the base delay, capped at the max, jitter in the middle = none", () => {
  const at = (attempt: number, now = start): number | undefined =>
    nextWebhookAttemptAt({ policy, attempt, windowStartedAt: start, now, random: () => 0.5 })?.getTime();
  assert.equal(at(0), start.getTime() + 30_000);
  assert.equal(at(1), start.getTime() + 60_000);
  assert.equal(at(4), start.getTime() + 480_000);
  assert.equal(at(7), start.getTime() + 3_600_000); // 3,840 s capped at an hour
  assert.equal(at(40), start.getTime() + 3_600_000);
});

test("jitter stays within +-25 %", () => {
  const low = nextWebhookAttemptAt({ policy, attempt: 2, windowStartedAt: start, now: start, random: () => 0 });
  const high = nextWebhookAttemptAt({ policy, attempt: 2, windowStartedAt: start, now: start, random: () => 1 });
  assert.equal(low?.getTime(), start.getTime() + 90_000);
  assert.equal(high?.getTime(), start.getTime() + 150_000);
});

test("gives up once the next try falls outside the day", () => {
  const late = new Date(start.getTime() + 86_400_000 - 10_000);
  assert.equal(nextWebhookAttemptAt({ policy, attempt: 0, windowStartedAt: start, now: late, random: () => 0.5 }), null);
  const justInside = new Date(start.getTime() + 86_400_000 - 30_000);
  assert.equal(
    nextWebhookAttemptAt({ policy, attempt: 0, windowStartedAt: start, now: justInside, random: () => 0.5 })?.getTime(),
    start.getTime() + 86_400_000,
  );
});
