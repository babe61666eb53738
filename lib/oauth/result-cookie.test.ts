import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeOAuthResult, encodeOAuthResult } from "./result-cookie";

test("the OAuth result cookie round-trips and refuses anything else", () => {
  const result = { success: true, message: "Connected ä@x.test with Google.", connected_email: "ä@x.test", email_type: "booking", provider: "google" };
  const value = encodeOAuthResult(result);
  assert.match(value, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeOAuthResult(value), result);
  assert.equal(decodeOAuthResult(undefined), null);
  assert.equal(decodeOAuthResult("not base64 json"), null);
  assert.equal(decodeOAuthResult(encodeOAuthResult({ ...result, success: "yes" } as never)), null);
});
