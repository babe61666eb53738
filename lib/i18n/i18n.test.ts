import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MAIL_ERROR_CODES } from "@/lib/api/error-codes";
import { en } from "./en";
import { fmt, formatRelative, localeFromAcceptLanguage, plural, resolveLocale } from "./index";
import { tr } from "./tr";

describe("choosing the language", () => {
  test("the lang cookie wins, then Accept-Language by q, then English", () => {
    assert.equal(resolveLocale({ cookie: "tr", acceptLanguage: "en-US" }), "tr");
    assert.equal(resolveLocale({ cookie: "de", acceptLanguage: "tr-TR,tr;q=0.9" }), "tr");
    assert.equal(resolveLocale({ acceptLanguage: "de-DE,de;q=0.9,tr;q=0.8,en;q=0.7" }), "tr");
    assert.equal(resolveLocale({ acceptLanguage: "en;q=0.5,tr;q=0.9" }), "tr");
    assert.equal(resolveLocale({ acceptLanguage: "tr;q=0,en" }), "en");
    assert.equal(resolveLocale({ acceptLanguage: "fr-FR" }), "en");
    assert.equal(resolveLocale({}), "en");
    assert.equal(localeFromAcceptLanguage("*"), null);
  });
});

/** Every string leaf with its dotted path. */
function leaves(value: unknown, prefix = ""): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof value === "string") out.set(prefix, value);
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) for (const [p, s] of leaves(v, prefix ? `${prefix}.${k}` : k)) out.set(p, s);
  }
  return out;
}

const placeholders = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();

describe("dictionaries", () => {
  const enLeaves = leaves(en);
  const trLeaves = leaves(tr);

  test("Turkish has a non-empty text for every English one, with the same placeholders", () => {
    for (const [path, text] of enLeaves) {
      if (path.startsWith("fieldErrors.")) continue; // keyed lookups with an English fallback
      const other = trLeaves.get(path);
      assert.ok(other && other.trim(), `tr is missing ${path}`);
      assert.deepEqual(placeholders(other), placeholders(text), `placeholders differ at ${path}`);
    }
  });

  test("formatting fills placeholders and plural forms", () => {
    assert.equal(fmt("{a} and {b}", { a: 1, b: "x" }), "1 and x");
    assert.equal(plural("en", en.health.syncing, 1), "Syncing: 1 message left");
    assert.equal(plural("en", en.health.syncing, 1250), "Syncing: 1,250 messages left");
    assert.equal(plural("tr", tr.health.syncing, 3), "Eşitleniyor: 3 e-posta kaldı");
    assert.equal(plural("en", en.health.firstImport, 1500, { imported: "320" }), "First import: 320 of 1,500 messages imported");
    assert.equal(plural("tr", tr.health.firstImport, 1500, { imported: "320" }), "İlk içe aktarma: 1.500 e-postanın 320 tanesi alındı");
  });

  test("relative times read naturally in both languages", () => {
    const now = Date.parse("2025-06-01T12:00:00Z");
    assert.equal(formatRelative("en", new Date(now - 3000), now), "just now");
    assert.equal(formatRelative("en", new Date(now - 5 * 60_000), now), "5 minutes ago");
    assert.equal(formatRelative("tr", new Date(now - 2 * 3_600_000), now), "2 saat önce");
  });
});

describe("mail error codes", () => {
  test("every stable code of lib/api/error-codes.ts has a title and advice in both languages, and nothing else is there", () => {
    assert.deepEqual(Object.keys(en.mailErrors).sort(), [...MAIL_ERROR_CODES].sort());
    assert.deepEqual(Object.keys(tr.mailErrors).sort(), [...MAIL_ERROR_CODES].sort());
    for (const code of MAIL_ERROR_CODES) {
      assert.ok(en.mailErrors[code].title && en.mailErrors[code].advice, code);
      assert.ok(tr.mailErrors[code].title && tr.mailErrors[code].advice, code);
    }
  });
});
