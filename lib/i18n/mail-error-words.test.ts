import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { en } from "./en";
import { mailErrorWords } from "./mail-error-words";

describe("mail error words", () => {
  test("fills the mailbox's details into the code's title and advice", () => {
    assert.deepEqual(mailErrorWords(en, "refused", { host: "mail.example.com", port: 993, protocol: "imap" }), {
      title: "The server mail.example.com refused the connection on port 993.",
      advice: "Check the port: 993 for IMAP with encryption, 143 without; 995 / 110 for POP3.",
    });
  });

  test("a missing folder reads INBOX, a missing host reads ?", () => {
    assert.equal(mailErrorWords(en, "folder_missing", {}).title, "The folder INBOX does not exist in this mailbox.");
    assert.equal(mailErrorWords(en, "refused", { host: "" }).title, "The server ? refused the connection on port ?.");
  });

  test("an unknown or missing code reads as unknown", () => {
    const unknown = {
      title: "The mail server returned an unexpected error.",
      advice: "Check the settings and try again. If it keeps happening, contact support.",
    };
    assert.deepEqual(mailErrorWords(en, "no_such_code", {}), unknown);
    assert.deepEqual(mailErrorWords(en, null, {}), unknown);
  });
});
