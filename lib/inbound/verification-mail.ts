import type { ForwardingVerification } from "@/lib/db/schema";
import { extractAddress } from "./sender-policy";

type MailFields = { from: string | null; subject: string | null; text: string | null };

const GMAIL_SENDER = "forwarding-noreply@google.com";

function firstLink(text: string, pattern?: RegExp): string | null {
  for (const m of text.matchAll(/https:\/\/[^\s<>"')\]]+/g)) {
    if (!pattern || pattern.test(m[0])) return m[0];
  }
  return null;
}

/**
 * Recognises a provider's verification mail (issue 16 item 4): Gmail sends one to the forwarding
 * address and enables the forward only after its code is entered or its link opened, so the admin
 * must see it on the settings page. Other providers and hosting panels send similar "confirm"
 * mails; those are recognised by an automated sender and a confirm/verify subject.
 */
export function detectVerificationMail(mail: MailFields): Omit<ForwardingVerification, "receivedAt" | "messageId"> | null {
  const from = extractAddress(mail.from);
  const subject = mail.subject ?? "";
  const text = mail.text ?? "";
  if (from === GMAIL_SENDER || /gmail forwarding confirmation/i.test(subject)) {
    const code = /confirmation code:\s*(\d{6,12})/i.exec(text)?.[1] ?? /\(#(\d{6,12})\)/.exec(subject)?.[1] ?? null;
    const link = firstLink(text, /^https:\/\/(mail-settings|mail|isolated\.mail)\.google\.com\//);
    return { provider: "gmail", code, link, from, subject: mail.subject };
  }
  const automated = from !== null && /(^|[.-])(no-?reply|do-?not-?reply|mailer-daemon|postmaster|verify|verification)[^@]*@/i.test(from);
  const looksLikeVerification = /(verif|confirm|doğrula|onay)/i.test(subject);
  if (automated && looksLikeVerification) {
    const code = /\b(?:code|kod|kodu)\b[^0-9A-Za-z]{0,5}([0-9]{4,10})\b/i.exec(text)?.[1] ?? null;
    const provider = from.endsWith("@microsoft.com") || from.endsWith(".microsoft.com") || from.endsWith("@outlook.com") ? "outlook" : "other";
    return { provider, code, link: firstLink(text), from, subject: mail.subject };
  }
  return null;
}
