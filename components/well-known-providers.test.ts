import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WELL_KNOWN_HOSTS, wellKnownProviderFor } from "./well-known-providers";

describe("well-known mail providers by address", () => {
  const cases: Array<[string, string, boolean]> = [
    ["res@gmail.com", "imap.gmail.com", true],
    ["res@googlemail.com", "imap.gmail.com", true],
    ["res@outlook.com", "outlook.office365.com", false],
    ["res@hotmail.com", "outlook.office365.com", false],
    ["res@live.com", "outlook.office365.com", false],
    ["res@contoso.onmicrosoft.com", "outlook.office365.com", false],
    ["res@yandex.com", "imap.yandex.com", true],
    ["res@yandex.com.tr", "imap.yandex.com", true],
    ["res@yandex.ru", "imap.yandex.com", true],
    ["res@icloud.com", "imap.mail.me.com", true],
    ["res@me.com", "imap.mail.me.com", true],
    ["res@yahoo.com", "imap.mail.yahoo.com", true],
    ["res@aol.com", "imap.aol.com", true],
    ["res@zoho.com", "imap.zoho.com", false],
    ["res@gmx.net", "imap.gmx.net", false],
    ["res@mail.ru", "imap.mail.ru", true],
    ["Res@GMAIL.COM ", "imap.gmail.com", true],
  ];
  for (const [address, host, appPassword] of cases) {
    test(`${address.trim()} -> ${host}`, () => {
      const p = wellKnownProviderFor(address);
      assert.ok(p);
      assert.equal(p.imap.host, host);
      assert.equal(p.imap.port, 993);
      assert.equal(p.appPassword, appPassword);
      assert.ok(WELL_KNOWN_HOSTS.has(host));
    });
  }

  test("unknown or incomplete addresses fill nothing in", () => {
    assert.equal(wellKnownProviderFor("res@grandhotel.com.tr"), null);
    assert.equal(wellKnownProviderFor("gmail.com"), null);
    assert.equal(wellKnownProviderFor("res@"), null);
  });
});
