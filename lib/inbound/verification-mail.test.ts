import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { detectVerificationMail } from "./verification-mail";

const GMAIL_TEXT = `user@gmail.com has requested to automatically forward mail to your email
address booking-abc@in.example.com.
Confirmation code: 843920175

To allow user@gmail.com to automatically forward mail to your address,
please click the link below to confirm the request:

https://mail-settings.google.com/mail/vf-%5BANGjdJ8Q%5D-Ab12Cd

If you click the link and it appears to be broken, please copy and paste it
into a new browser window.`;

describe("verification mail", () => {
  it("recognises Gmail's forwarding confirmation with its code and link", () => {
    const found = detectVerificationMail({
      from: '"Gmail Team" <forwarding-noreply@google.com>',
      subject: "(#843920175) Gmail Forwarding Confirmation - Receive Mail from user@gmail.com",
      text: GMAIL_TEXT,
    });
    assert.deepEqual(found, {
      provider: "gmail",
      code: "843920175",
      link: "https://mail-settings.google.com/mail/vf-%5BANGjdJ8Q%5D-Ab12Cd",
      from: "forwarding-noreply@google.com",
      subject: "(#843920175) Gmail Forwarding Confirmation - Receive Mail from user@gmail.com",
    });
  });

  it("recognises another provider's confirm mail from an automated sender", () => {
    const found = detectVerificationMail({
      from: "no-reply@panel.host.example",
      subject: "Please confirm your forwarder",
      text: "Your verification code: 4821\nOr open https://panel.host.example/confirm?t=1 to confirm.",
    });
    assert.deepEqual(found, {
      provider: "other",
      code: "4821",
      link: "https://panel.host.example/confirm?t=1",
      from: "no-reply@panel.host.example",
      subject: "Please confirm your forwarder",
    });
  });

  it("ignores ordinary mail, even one asking to confirm a booking", () => {
    assert.equal(detectVerificationMail({ from: "guest@example.com", subject: "Please confirm my booking", text: "code 1234" }), null);
    assert.equal(detectVerificationMail({ from: "no-reply@ota.example", subject: "New reservation", text: "" }), null);
  });
});
