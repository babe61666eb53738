import assert from "node:assert/strict";
import { describe, it } from "node:test";
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

  it("fails a multipart message without a boundary, keeping the headers it can read", async () => {
    const result = await parseMessage(
      crlf("From: Acente <a@example.com>\nSubject: Stop sale\nContent-Type: multipart/mixed\n\n--x\nbody\n"),
    );
    assert.deepEqual(result, {
      ok: false,
      error: "The message is multipart but declares no boundary (malformed MIME).",
      headers: { messageId: null, fromAddress: '"Acente" <a@example.com>', subject: "Stop sale" },
    });
  });

  it("fails text that has no header block", async () => {
    const result = await parseMessage(crlf("this is not an email\nat all\n"));
    assert.deepEqual(result, {
      ok: false,
      error: "The message does not start with a header (malformed MIME).",
      headers: { messageId: null, fromAddress: null, subject: null },
    });
  });

  it("fails a header block with a non-header line", async () => {
    const result = await parseMessage(crlf("From: a@example.com\nnot a header line\nSubject: x\n\nbody\n"));
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.error, 'Malformed header line: "not a header line".');
  });

  it("fails an empty message", async () => {
    assert.deepEqual(await parseMessage(Buffer.alloc(0)), {
      ok: false,
      error: "The message is empty.",
      headers: { messageId: null, fromAddress: null, subject: null },
    });
  });
});
