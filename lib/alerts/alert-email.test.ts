import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildAlertEmail, formatQuietDuration, formatUtc, type AlertEmailInput } from "./alert-email";

const base: AlertEmailInput = {
  locale: "en",
  kind: "failure",
  code: "auth",
  tenantName: "Hotel Ada",
  purpose: "booking",
  address: "res@hotel.test",
  host: "imap.hotel.test",
  port: 993,
  folder: "INBOX",
  protocol: "imap",
  since: new Date("2026-01-01T10:05:30Z"),
  now: new Date("2026-01-01T10:20:00Z"),
  settingsUrl: "https://app.test/settings/email",
};

describe("alert emails", () => {
  it("formats times and durations the same way everywhere", () => {
    assert.equal(formatUtc(new Date("2026-01-01T10:05:30Z")), "2026-01-01 10:05 UTC");
    assert.equal(formatQuietDuration("en", 6 * 3600_000), "6 hours");
    assert.equal(formatQuietDuration("tr", 6 * 3600_000), "6 saat");
    assert.equal(formatQuietDuration("en", 90_000), "2 minutes");
  });

  it("English failure: which mailbox, what is wrong (from the code), what to do, the link", () => {
    const mail = buildAlertEmail(base);
    assert.equal(mail.subject, "Action needed: the booking mailbox res@hotel.test stopped receiving mail");
    assert.equal(
      mail.text,
      [
        "Hello, since 2026-01-01 10:05 UTC we cannot read the booking mailbox res@hotel.test of Hotel Ada. New mail there is not picked up until this is fixed.",
        "",
        "What is wrong: The server rejected the username or password.",
        "What to do: Check the password. Gmail, iCloud and Yahoo need an app password here, not your normal one.",
        "",
        "Open the email settings: https://app.test/settings/email",
        "",
        "--",
        "You get this email because you are an admin of Hotel Ada. You can turn alert emails off on the settings page.",
      ].join("\n"),
    );
  });

  it("Turkish failure, with the error's placeholders filled", () => {
    const mail = buildAlertEmail({ ...base, locale: "tr", code: "refused", purpose: "stopsale" });
    assert.equal(mail.subject, "İşlem gerekli: stop-sale posta kutusu res@hotel.test e-posta almayı durdurdu");
    const lines = mail.text.split("\n");
    assert.equal(lines[2], "Sorun nedir: imap.hotel.test sunucusu 993 portundaki bağlantıyı reddetti.");
    assert.equal(lines[5], "E-posta ayarlarını açın: https://app.test/settings/email");
  });

  it("an unknown code reads as unknown, never as the server's sentence", () => {
    const lines = buildAlertEmail({ ...base, code: "something_new" }).text.split("\n");
    assert.equal(lines[2], "What is wrong: The mail server returned an unexpected error.");
  });

  it("recovery and quiet mails", () => {
    assert.equal(buildAlertEmail({ ...base, kind: "recovery", code: null }).subject, "Fixed: the booking mailbox res@hotel.test works again");
    assert.equal(buildAlertEmail({ ...base, locale: "tr", kind: "recovery", code: null }).subject, "Düzeldi: rezervasyon posta kutusu res@hotel.test yeniden çalışıyor");
    const quiet = buildAlertEmail({ ...base, kind: "quiet", code: null, since: new Date("2026-01-01T04:20:00Z") });
    assert.equal(quiet.subject, "Check: no mail in the booking mailbox res@hotel.test for 6 hours");
  });
});
