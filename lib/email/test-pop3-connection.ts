import type { ConnectionTestResult, ConnectionTestTarget } from "./test-connection";

/** Replaced by the POP3 client's real check (issue 8). */
export async function testPop3Connection(target: ConnectionTestTarget): Promise<ConnectionTestResult> {
  void target;
  return { ok: false, error: { code: "config", message: "POP3 connection tests are not available yet." } };
}
