import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadOddMail } from "@/tests/fixtures/odd-mail/corpus";
import { parseMessage } from "./parse-message";

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\r?\n/g, "\r\n"));

describe("parseMessage", () => {
  it("extracts the fields of a plain message", async () => {
    const result = await parseMessage(
      crlf(`From: Otel Rezervasyon <rez@example.com>
To: booking@hotel.test
Subject: =?UTF-8?B?UmV6ZXJ2YXN5b24gb25heWk=?=
Message-ID: <abc@example.com>
Date: Tue, 24 Nov 2026 10:00:00 +0300

Merhaba, 2 gece.
`),
    );
    assert.ok(result.ok);
    assert.equal(result.fields.subject, "Rezervasyon onayi");
    assert.equal(result.fields.fromAddress, '"Otel Rezervasyon" <rez@example.com>');
    assert.equal(result.fields.toAddresses, "booking@hotel.test");
    assert.equal(result.fields.messageId, "<abc@example.com>");
    assert.equal(result.fields.sentAt?.toISOString(), "2026-11-24T07:00:00.000Z");
    assert.equal(result.fields.textBody, "Merhaba, 2 gece.\n");
    assert.deepEqual(result.fields.attachments, []);
  });

  it("lists attachments with their size", async () => {
    const result = await parseMessage(
      crlf(`From: a@example.com
Subject: with file
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain

see attached
--b1
Content-Type: text/csv; name="stop.csv"
Content-Disposition: attachment; filename="stop.csv"
Content-Transfer-Encoding: base64

aG90ZWwsZGF0ZQo=
--b1--
`),
    );
    assert.ok(result.ok);
    assert.deepEqual(result.fields.attachments, [{ filename: "stop.csv", content_type: "text/csv", size: 11 }]);
  });

  it("shows a multipart message without a boundary as text, with a warning", async () => {
    const result = await parseMessage(
      crlf("From: Acente <a@example.com>\nSubject: Stop sale\nContent-Type: multipart/mixed\n\n--x\nbody\n"),
    );
    assert.ok(result.ok);
    assert.equal(result.fields.subject, "Stop sale");
    assert.equal(result.fields.fromAddress, '"Acente" <a@example.com>');
    assert.equal(result.fields.textBody, "--x\nbody\n");
    assert.deepEqual(result.warnings, [
      "multipart_without_boundary: the message is multipart but declares no boundary; its body is shown as plain text",
    ]);
  });

  it("shows text that has no header block as the body", async () => {
    const result = await parseMessage(crlf("this is not an email\nat all\n"));
    assert.ok(result.ok);
    assert.equal(result.fields.textBody, "this is not an email\nat all\n");
    assert.equal(result.fields.subject, null);
    assert.deepEqual(result.warnings, ["no_headers: the message has no header block; its whole source is shown as plain text (utf-8)"]);
  });

  it("skips a stray line between headers", async () => {
    const result = await parseMessage(crlf("From: a@example.com\nnot a header line\nSubject: x\n\nbody\n"));
    assert.ok(result.ok);
    assert.equal(result.fields.subject, "x");
    assert.equal(result.fields.textBody, "body\n");
    assert.deepEqual(result.warnings, [
      'malformed_header_line: 1 line(s) in the header block were not headers and were skipped ("not a header line")',
    ]);
  });

  it("fails an empty message", async () => {
    assert.deepEqual(await parseMessage(Buffer.alloc(0)), {
      ok: false,
      error: "The message is empty.",
      headers: { messageId: null, fromAddress: null, subject: null },
      warnings: [],
    });
  });

  it("cuts bodies above maxBodyChars and says so", async () => {
    const result = await parseMessage(crlf("From: a@example.com\n\n0123456789\n"), { maxBodyChars: 4 });
    assert.ok(result.ok);
    assert.equal(result.fields.textBody, "0123");
    assert.deepEqual(result.warnings, ["body_truncated: the text body was 11 characters and was cut to 4"]);
  });
});

describe("parseMessage on the odd-mail corpus", () => {
  for (const mail of loadOddMail()) {
    it(`${mail.name}: ${mail.status}, warnings ${mail.warnings.join(", ") || "none"}`, async () => {
      const result = await parseMessage(mail.raw);
      assert.equal(result.ok, mail.status === "processed", result.ok ? "parsed" : result.error);
      assert.deepEqual(
        result.warnings.map((w) => w.slice(0, w.indexOf(":"))),
        mail.warnings,
      );
      if (!result.ok) return;
      if (mail.subject !== undefined) assert.equal(result.fields.subject, mail.subject);
      if (mail.text !== undefined) assert.ok(result.fields.textBody?.includes(mail.text), `text: ${result.fields.textBody?.slice(0, 80)}`);
      if (mail.filename !== undefined) assert.equal(result.fields.attachments[0]?.filename, mail.filename);
    });
  }
});
