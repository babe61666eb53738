import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MailError } from "@/lib/email/provider";
import { ApiSession } from "./api-session";

const UNEXPECTED = "Unexpected response from the Gmail API.";

describe("ApiSession.guard", () => {
  it("returns the body's value and turns what it throws into the error fail makes", async () => {
    const session = new ApiSession(UNEXPECTED);
    session.opened();
    assert.equal(await session.guard(async () => 42), 42);
    await assert.rejects(
      session.guard(async () => {
        throw new Error("socket hang up");
      }),
      (err: unknown) => err instanceof MailError && err.code === "protocol" && err.message === UNEXPECTED,
    );
    assert.deepEqual(session.health(), { connected: true, lastActivityAt: null, lastError: UNEXPECTED });
  });
});

describe("ApiSession.fail", () => {
  it("wraps a foreign error as protocol with the service's message and shows it as lastError", () => {
    const session = new ApiSession(UNEXPECTED);
    session.opened();
    const error = session.fail(new Error("boom"));
    assert.equal(error.code, "protocol");
    assert.equal(error.message, UNEXPECTED);
    assert.deepEqual(session.health(), { connected: true, lastActivityAt: null, lastError: UNEXPECTED });
  });

  it("passes a MailError through; an auth failure ends the connection, another does not", () => {
    const session = new ApiSession(UNEXPECTED);
    session.opened();
    const limited = new MailError("rate_limited", "slow down");
    assert.equal(session.fail(limited), limited);
    assert.deepEqual(session.health(), { connected: true, lastActivityAt: null, lastError: "slow down" });
    const reauth = new MailError("needs_reauth", "reconnect");
    assert.equal(session.fail(reauth), reauth);
    assert.deepEqual(session.health(), { connected: false, lastActivityAt: null, lastError: "reconnect" });
  });

  it("opened clears the last error", () => {
    const session = new ApiSession(UNEXPECTED);
    session.fail(new MailError("network", "down"));
    session.opened();
    assert.deepEqual(session.health(), { connected: true, lastActivityAt: null, lastError: null });
  });
});

describe("ApiSession signals", () => {
  it("reopen aborts the previous connection's calls only", () => {
    const session = new ApiSession(UNEXPECTED);
    const before = session.callSignal();
    session.reopen();
    assert.equal(before.aborted, true);
    assert.equal(session.closeSignal.aborted, false);
  });

  it("a call signal aborts with the caller's signal or with close", () => {
    const session = new ApiSession(UNEXPECTED);
    const outer = new AbortController();
    const call = session.callSignal(outer.signal);
    outer.abort();
    assert.equal(call.aborted, true);
    assert.equal(session.closeSignal.aborted, false);
    const other = session.callSignal(new AbortController().signal);
    session.opened();
    session.close();
    assert.equal(other.aborted, true);
    assert.equal(session.connected, false);
  });
});

describe("ApiSession.waitForChange", () => {
  it("returns changed when a poll round finds mail", async () => {
    const session = new ApiSession(UNEXPECTED);
    session.opened();
    const result = await session.waitForChange({ timeoutMs: 60_000, signal: new AbortController().signal, pollIntervalMs: () => 60_000, poll: async () => true });
    assert.equal(result, "changed");
  });

  it("returns changed for a notification left over from before the wait, without polling", async () => {
    const session = new ApiSession(UNEXPECTED);
    session.opened();
    session.changes.notifyChange();
    let polls = 0;
    const result = await session.waitForChange({
      timeoutMs: 60_000,
      signal: new AbortController().signal,
      pollIntervalMs: () => 60_000,
      poll: async () => {
        polls++;
        return false;
      },
    });
    assert.equal(result, "changed");
    assert.equal(polls, 0);
  });

  it("returns closed when close ends the wait, even if the poll round then fails", async () => {
    const session = new ApiSession(UNEXPECTED);
    session.opened();
    const result = await session.waitForChange({
      timeoutMs: 60_000,
      signal: new AbortController().signal,
      pollIntervalMs: () => 60_000,
      poll: async () => {
        session.close();
        throw new Error("aborted request");
      },
    });
    assert.equal(result, "closed");
    assert.equal(session.lastError, null);
  });

  it("a failing poll round goes through fail", async () => {
    const session = new ApiSession(UNEXPECTED);
    session.opened();
    const reauth = new MailError("needs_reauth", "reconnect");
    await assert.rejects(
      session.waitForChange({ timeoutMs: 60_000, signal: new AbortController().signal, pollIntervalMs: () => 60_000, poll: async () => Promise.reject(reauth) }),
      (err) => err === reauth,
    );
    assert.deepEqual(session.health(), { connected: false, lastActivityAt: null, lastError: "reconnect" });
  });
});
