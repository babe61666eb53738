import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertHostAllowed, isBlockedAddress, resolveMailHost, type LookupAll } from "./host-check";
import { MailError } from "./provider";

const isCode = (code: string) => (err: unknown): boolean => {
  assert.ok(err instanceof MailError, String(err));
  assert.equal(err.code, code);
  return true;
};

describe("isBlockedAddress", () => {
  it("blocks private, loopback, link-local and special ranges", () => {
    for (const ip of [
      "127.0.0.1", "127.255.255.254", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
      "0.0.0.0", "0.1.2.3", "100.64.0.1", "100.127.255.255", "224.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.2.1",
      "240.0.0.1", "::1", "::", "fe80::1", "fe80::1%eth0", "fd00::1", "fc00::1", "ff02::1", "fec0::1", "2001:db8::1",
      "::ffff:127.0.0.1", "::ffff:10.0.0.1", "100::1",
    ]) {
      assert.equal(isBlockedAddress(ip), true, ip);
    }
  });

  it("blocks the IPv6 spellings of loopback and metadata from the review (issue 14 §5)", () => {
    for (const ip of ["0::1", "0:0:0:0:0:0:0:1", "::ffff:7f00:1", "::ffff:a9fe:a9fe", "64:ff9b::7f00:1", "[0::1]", "[::ffff:7f00:1]"]) {
      assert.equal(isBlockedAddress(ip), true, ip);
    }
  });

  it("judges IPv6 forms that carry an IPv4 address by that address", () => {
    // NAT64 (RFC 6052), also the local-use prefix 64:ff9b:1::/48
    assert.equal(isBlockedAddress("64:ff9b::a9fe:a9fe"), true);
    assert.equal(isBlockedAddress("64:ff9b::0a00:0001"), true);
    assert.equal(isBlockedAddress("64:ff9b::808:808"), false);
    // SIIT ::ffff:0:a.b.c.d
    assert.equal(isBlockedAddress("::ffff:0:7f00:1"), true);
    // 6to4: 2002:c0a8:0101:: embeds 192.168.1.1; 2002:0808:0808:: embeds 8.8.8.8
    assert.equal(isBlockedAddress("2002:c0a8:101::1"), true);
    assert.equal(isBlockedAddress("2002:7f00:1::"), true);
    assert.equal(isBlockedAddress("2002:808:808::1"), false);
    // Teredo: client 127.0.0.1 obfuscated (xor ffff) in the last 32 bits
    assert.equal(isBlockedAddress("2001:0:808:808:0:0:80ff:fffe"), true);
    // Teredo with a private server address
    assert.equal(isBlockedAddress("2001:0:a00:1:0:0:f7f7:f7f7"), true);
    assert.equal(isBlockedAddress("2001:0:808:808:0:0:f7f7:f7f7"), false);
    // IPv4-compatible ::a.b.c.d (deprecated) is never a real destination
    assert.equal(isBlockedAddress("::7f00:1"), true);
    assert.equal(isBlockedAddress("::808:808"), true);
  });

  it("allows public addresses", () => {
    for (const ip of ["142.250.1.109", "172.32.0.1", "8.8.8.8", "100.128.0.1", "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8", "2606:4700::1111"]) {
      assert.equal(isBlockedAddress(ip), false, ip);
    }
  });

  it("blocks what is not an address at all", () => {
    for (const text of ["", "example.com", "1.2.3", "::g", "[::1"]) assert.equal(isBlockedAddress(text), true, text);
  });
});

describe("resolveMailHost", () => {
  const noDns: LookupAll = () => {
    throw new Error("DNS must not be asked for a literal");
  };

  it("refuses localhost and private literals unless allowed", async () => {
    for (const host of ["localhost", "LOCALHOST.", "imap.localhost", "127.0.0.1", "[::1]", "10.0.0.5", "[0::1]", "[0:0:0:0:0:0:0:1]", "[::ffff:7f00:1]", "[::ffff:a9fe:a9fe]", "[64:ff9b::7f00:1]"]) {
      await assert.rejects(resolveMailHost(host, { allowPrivate: false, lookup: noDns }), isCode("host_not_allowed"), host);
    }
    assert.deepEqual(await resolveMailHost("127.0.0.1", { allowPrivate: true, lookup: noDns }), { address: "127.0.0.1", family: 4 });
  });

  it("accepts literals without DNS, IPv6 in brackets, and gives no SNI name for them", async () => {
    assert.deepEqual(await resolveMailHost("8.8.8.8", { allowPrivate: false, lookup: noDns }), { address: "8.8.8.8", family: 4 });
    assert.deepEqual(await resolveMailHost("[2001:4860:4860::8888]", { allowPrivate: false, lookup: noDns }), {
      address: "2001:4860:4860::8888",
      family: 6,
    });
    assert.deepEqual(await resolveMailHost("[::1]", { allowPrivate: true, lookup: noDns }), { address: "::1", family: 6 });
    await assert.rejects(resolveMailHost("[not-an-ip]", { allowPrivate: false, lookup: noDns }), isCode("config"));
  });

  it("resolves a name once, checks every answer and returns the checked address with the name as servername", async () => {
    const calls: string[] = [];
    const lookup: LookupAll = async (name) => {
      calls.push(name);
      return [
        { address: "2a00:1450:4001:80b::200e", family: 6 },
        { address: "142.250.1.109", family: 4 },
      ];
    };
    assert.deepEqual(await resolveMailHost("imap.example.com.", { allowPrivate: false, lookup }), {
      address: "142.250.1.109",
      family: 4,
      servername: "imap.example.com",
    });
    assert.deepEqual(calls, ["imap.example.com"]);
    const mixed: LookupAll = async () => [
      { address: "142.250.1.109", family: 4 },
      { address: "::ffff:169.254.169.254", family: 6 },
    ];
    await assert.rejects(resolveMailHost("mixed.example.com", { allowPrivate: false, lookup: mixed }), isCode("host_not_allowed"));
  });

  it("a rebinding resolver (public, then loopback) cannot steer the connection to loopback", async () => {
    let n = 0;
    const rebinding: LookupAll = async () => [{ address: n++ === 0 ? "93.184.216.34" : "127.0.0.1", family: 4 }];
    const resolved = await resolveMailHost("rebind.example.com", { allowPrivate: false, lookup: rebinding });
    // The caller connects to this address; the name is asked exactly once, so the second answer never counts.
    assert.deepEqual(resolved, { address: "93.184.216.34", family: 4, servername: "rebind.example.com" });
    assert.equal(n, 1);
    await assert.rejects(resolveMailHost("rebind.example.com", { allowPrivate: false, lookup: rebinding }), isCode("host_not_allowed"));
  });

  it("reports an unresolvable name as a DNS error", async () => {
    await assert.rejects(assertHostAllowed("no-such-host.invalid", { allowPrivate: false }), isCode("dns"));
    const empty: LookupAll = async () => [];
    await assert.rejects(resolveMailHost("empty.example.com", { allowPrivate: false, lookup: empty }), isCode("dns"));
  });
});
