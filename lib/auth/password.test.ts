import assert from "node:assert/strict";
import { test } from "node:test";
import { parseOptions } from "@node-rs/argon2";
import { hashPassword, verifyDummyPassword, verifyPassword } from "./password";

test("hashPassword makes an argon2id hash with the OWASP parameters", async () => {
  const hash = await hashPassword("correct horse battery staple");
  assert.match(hash, /^\$argon2id\$/);
  const options = parseOptions(hash);
  assert.equal(options.memoryCost, 19456);
  assert.equal(options.timeCost, 2);
  assert.equal(options.parallelism, 1);
});

test("verifyPassword accepts the right password and rejects a wrong one", async () => {
  const hash = await hashPassword("s3cret-Passw0rd");
  assert.equal(await verifyPassword({ hash, password: "s3cret-Passw0rd" }), true);
  assert.equal(await verifyPassword({ hash, password: "s3cret-passw0rd" }), false);
  assert.equal(await verifyPassword({ hash, password: "" }), false);
});

test("the same password hashes differently each time (random salt)", async () => {
  const [a, b] = await Promise.all([hashPassword("same"), hashPassword("same")]);
  assert.notEqual(a, b);
});

test("verifyPassword is false, not an exception, for a malformed stored hash", async () => {
  assert.equal(await verifyPassword({ hash: "not-a-hash", password: "x" }), false);
  assert.equal(await verifyPassword({ hash: "", password: "x" }), false);
});

test("verifyDummyPassword always fails", async () => {
  assert.equal(await verifyDummyPassword("anything"), false);
});
