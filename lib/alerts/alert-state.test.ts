import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { INITIAL_ALERT_STATE, classifyStatus, evaluateAlert, observeStatus, quietThresholdMs, sameAlertState, type AlertPolicy, type AlertState } from "./alert-state";

const policy: AlertPolicy = { graceMs: 600_000, recoveryMs: 120_000, cooldownMs: 3_600_000 };
const t = (s: number): Date => new Date(Date.UTC(2026, 0, 1) + s * 1000);

function run(state: AlertState, steps: Array<[number, string, string | null]>): AlertState {
  return steps.reduce((s, [at, status, code]) => observeStatus(s, { status, code, now: t(at) }, policy), state);
}

describe("alert state machine", () => {
  it("classifies statuses", () => {
    assert.deepEqual(
      ["connected", "connecting", "disconnected", "error", "needs_reauth", "paused"].map(classifyStatus),
      ["healthy", "neutral", "neutral", "failing", "failing", "failing"],
    );
  });

  it("sends one failure alert after the grace period, not before, and nothing more while failing", () => {
    let s = run(INITIAL_ALERT_STATE, [[0, "connected", null], [10, "error", "auth"], [12, "connecting", null], [14, "error", "auth"]]);
    assert.equal(s.failingSince?.toISOString(), t(10).toISOString());
    assert.equal(s.dueAt?.toISOString(), t(610).toISOString());
    assert.equal(evaluateAlert(s, t(609), policy).send, null);
    const r = evaluateAlert(s, t(610), policy);
    assert.deepEqual(r.send, { kind: "failure", code: "auth" });
    s = r.state;
    assert.equal(s.alerted, "failing");
    assert.equal(s.dueAt, null);
    s = run(s, [[700, "error", "timeout"]]);
    assert.equal(evaluateAlert(s, t(5000), policy).send, null);
  });

  it("a failure shorter than the grace sends nothing", () => {
    let s = run(INITIAL_ALERT_STATE, [[0, "error", "refused"], [300, "connected", null]]);
    assert.equal(s.dueAt, null);
    assert.equal(evaluateAlert(s, t(10_000), policy).send, null);
    s = run(s, [[400, "error", "refused"]]);
    assert.equal(s.dueAt?.toISOString(), t(1000).toISOString());
  });

  it("needs_reauth and paused are due at once", () => {
    const s = run(INITIAL_ALERT_STATE, [[0, "connected", null], [50, "needs_reauth", "needs_reauth"]]);
    assert.equal(s.dueAt?.toISOString(), t(50).toISOString());
    assert.deepEqual(evaluateAlert(s, t(50), policy).send, { kind: "failure", code: "needs_reauth" });
    const p = run(INITIAL_ALERT_STATE, [[0, "error", "auth"], [30, "paused", "paused"]]);
    assert.equal(p.failingSince?.toISOString(), t(0).toISOString());
    assert.deepEqual(evaluateAlert(p, t(30), policy).send, { kind: "failure", code: "paused" });
  });

  it("sends one recovery alert once healthy for the recovery period", () => {
    let s = evaluateAlert(run(INITIAL_ALERT_STATE, [[0, "error", "auth"]]), t(600), policy).state;
    s = run(s, [[1000, "connected", null], [1050, "connected", null]]);
    assert.equal(s.dueAt?.toISOString(), t(1120).toISOString());
    assert.equal(evaluateAlert(s, t(1119), policy).send, null);
    const r = evaluateAlert(s, t(1120), policy);
    assert.deepEqual(r.send, { kind: "recovery" });
    assert.equal(r.state.alerted, "ok");
    assert.equal(r.state.dueAt, null);
    assert.equal(evaluateAlert(r.state, t(99_999), policy).send, null);
  });

  it("a flapping server sends at most a failure and a recovery within the cool-down", () => {
    let s: AlertState = INITIAL_ALERT_STATE;
    const sent: string[] = [];
    // Down 700 s, up 200 s, for 10 cycles; the scan runs every 30 s.
    for (let now = 0, cycle = 0; cycle < 4; cycle++) {
      s = observeStatus(s, { status: "error", code: "refused", now: t(now) }, policy);
      for (const end = now + 700; now < end; now += 30) {
        const r = evaluateAlert(s, t(now), policy);
        s = r.state;
        if (r.send) sent.push(`${r.send.kind}@${now}`);
      }
      s = observeStatus(s, { status: "connected", code: null, now: t(now) }, policy);
      for (const end = now + 200; now < end; now += 30) {
        const r = evaluateAlert(s, t(now), policy);
        s = r.state;
        if (r.send) sent.push(`${r.send.kind}@${now}`);
      }
    }
    // failure at 600 (grace), recovery at the first scan 120 s after 700; the next one waits for 840 + 3600.
    assert.deepEqual(sent, ["failure@600", "recovery@840"]);
    assert.equal(s.observed, "healthy");
  });

  it("the cool-down delays, but does not drop, a lasting new failure", () => {
    let s = evaluateAlert(run(INITIAL_ALERT_STATE, [[0, "error", "auth"]]), t(600), policy).state;
    s = evaluateAlert(run(s, [[700, "connected", null]]), t(820), policy).state;
    s = run(s, [[900, "error", "auth"]]);
    assert.equal(s.dueAt?.toISOString(), t(4420).toISOString()); // the recovery at 820 + 3600
    assert.deepEqual(evaluateAlert(s, t(4420), policy).send, { kind: "failure", code: "auth" });
  });
});

describe("quiet-mailbox threshold", () => {
  const q = { minSamples: 20, factor: 3, minQuietMs: 4 * 3600_000 };
  it("needs history", () => {
    assert.equal(quietThresholdMs({ samples: 19, p95GapMs: 60_000, lastReceivedAt: t(0) }, t(999_999), q), null);
    assert.equal(quietThresholdMs({ samples: 50, p95GapMs: null, lastReceivedAt: t(0) }, t(999_999), q), null);
  });
  it("fires beyond factor x p95 gap, never under the minimum", () => {
    const h = { samples: 50, p95GapMs: 2 * 3600_000, lastReceivedAt: t(0) };
    assert.equal(quietThresholdMs(h, t(6 * 3600), q), null);
    assert.equal(quietThresholdMs(h, t(6 * 3600 + 1), q), 6 * 3600_000);
    const busy = { samples: 500, p95GapMs: 60_000, lastReceivedAt: t(0) };
    assert.equal(quietThresholdMs(busy, t(4 * 3600), q), null);
    assert.equal(quietThresholdMs(busy, t(4 * 3600 + 1), q), 4 * 3600_000);
  });
  it("a healthy mailbox that connects again leaves its state as it was (no write); a change of any field is a change", () => {
    const t0 = new Date(1_000_000);
    const healthy = observeStatus(INITIAL_ALERT_STATE, { status: "connected", code: null, now: t0 }, policy);
    const again = evaluateAlert(observeStatus(healthy, { status: "connected", code: null, now: new Date(2_000_000) }, policy), new Date(2_000_000), policy).state;
    assert.equal(sameAlertState(again, healthy), true);
    assert.equal(sameAlertState({ ...healthy, healthySince: new Date(t0.getTime()) }, healthy), true);
    assert.equal(sameAlertState({ ...healthy, healthySince: new Date(t0.getTime() + 1) }, healthy), false);
    assert.equal(sameAlertState({ ...healthy, alertedCode: "auth" }, healthy), false);
    const failing = observeStatus(healthy, { status: "error", code: "network", now: new Date(3_000_000) }, policy);
    assert.equal(sameAlertState(failing, healthy), false);
  });
});
