import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertHostAllowed, isBlockedAddress } from "./host-check";
import { MailError } from "./provider";

describe("isBlockedAddress", () => {
  it("blocks private, loopback, link-local and special ranges", () => {
    for (const ip of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1", "::1", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "224.0.0.1"]) {
      assert.equal(isBlockedAddress(ip), true, ip);
    }
  });
  it("allows public addresses", () => {
    for (const ip of ["142.250.1.109", "172.32.0.1", "8.8.8.8", "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8"]) {
      assert.equal(isBlockedAddress(ip), false, ip);
    }
  });
});

describe("assertHostAllowed", () => {
  it("refuses localhost and private literals unless allowed", async () => {
    for (const host of ["localhost", "127.0.0.1", "[::1]", "10.0.0.5"]) {
      await assert.rejects(assertHostAllowed(host, { allowPrivate: false }), (err: unknown) => {
        assert.ok(err instanceof MailError);
        assert.equal(err.code, "host_not_allowed");
        return true;
      });
    }
    await assertHostAllowed("127.0.0.1", { allowPrivate: true });
  });
  it("accepts a public literal without DNS", async () => {
    await assertHostAllowed("8.8.8.8", { allowPrivate: false });
  });
  it("reports an unresolvable name as a DNS error", async () => {
    await assert.rejects(assertHostAllowed("no-such-host.invalid", { allowPrivate: false }), (err: unknown) => {
      assert.ok(err instanceof MailError);
      assert.equal(err.code, "dns");
      return true;
    });
  });
});
