import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeUnstorable, needsSanitizing, sanitizeJson, sanitizeNullableText, sanitizeText } from "./sanitize";

describe("sanitizeText", () => {
  it("replaces NUL by U+FFFD", () => {
    assert.equal(sanitizeText("\0Hi"), "\uFFFDHi");
    assert.equal(sanitizeText("a\0\0b"), "a\uFFFD\uFFFDb");
  });

  it("replaces lone surrogates by U+FFFD and keeps valid pairs", () => {
    assert.equal(sanitizeText("\uD800 x"), "\uFFFD x");
    assert.equal(sanitizeText("x\uDC00"), "x\uFFFD");
    assert.equal(sanitizeText("😀 \uD83D"), "😀 \uFFFD");
  });

  it("returns ordinary text unchanged", () => {
    const s = "Rezervasyon onayı — Çok güzel 😀";
    assert.equal(sanitizeText(s), s);
    assert.equal(needsSanitizing(s), false);
    assert.equal(needsSanitizing("a\0"), true);
    assert.equal(sanitizeNullableText(null), null);
    assert.equal(sanitizeNullableText(undefined), null);
  });

  it("is accepted by JSON.stringify as well-formed", () => {
    assert.equal(JSON.stringify(sanitizeText("\uD800")), '"\uFFFD"');
  });
});

describe("sanitizeJson", () => {
  it("sanitizes every string, nested, keys included", () => {
    assert.deepEqual(
      sanitizeJson([{ filename: "a\0b.pdf", content_type: "application/pdf", size: 2, ["k\0"]: ["\uD800", 1, null, true] }]),
      [{ filename: "a\uFFFDb.pdf", content_type: "application/pdf", size: 2, ["k\uFFFD"]: ["\uFFFD", 1, null, true] }],
    );
  });

  it("leaves numbers, booleans and null alone", () => {
    assert.deepEqual(sanitizeJson({ a: 1, b: false, c: null }), { a: 1, b: false, c: null });
  });
});

describe("describeUnstorable", () => {
  it("names the fields that held NUL or lone surrogates", () => {
    assert.deepEqual(
      describeUnstorable({ subject: "\0Hi", fromAddress: "x\uD800", attachments: [{ filename: "a\0b" }], textBody: "ok" }),
      [
        "nul_character: NUL characters in subject, attachments were replaced by U+FFFD",
        "lone_surrogate: unpaired UTF-16 surrogates in fromAddress were replaced by U+FFFD",
      ],
    );
  });

  it("says nothing for storable fields", () => {
    assert.deepEqual(describeUnstorable({ subject: "fine", attachments: [] }), []);
  });
});
