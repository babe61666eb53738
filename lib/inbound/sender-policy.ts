/** Why a message is refused by the mailbox's sender policy, or null when it may be stored. */
export type SenderRefusal = "sender_not_allowed" | "dmarc_fail";

/** The bare address in a header value like `"Name" <a@b.c>`, lowercased. */
export function extractAddress(value: string | null | undefined): string | null {
  if (!value) return null;
  const angle = /<([^<>\s]+@[^<>\s]+)>/.exec(value);
  const bare = angle?.[1] ?? /([^\s<>,;"]+@[^\s<>,;"]+)/.exec(value)?.[1];
  return bare ? bare.toLowerCase().replace(/\.$/, "") : null;
}

/** An entry matches an address exactly, or its domain ("example.com", "@example.com") and any subdomain of it. */
export function senderMatches(entry: string, address: string): boolean {
  const e = entry.trim().toLowerCase();
  if (!e) return false;
  if (e.includes("@") && !e.startsWith("@")) return e === address;
  const domain = e.replace(/^@/, "");
  const host = address.slice(address.lastIndexOf("@") + 1);
  return host === domain || host.endsWith(`.${domain}`);
}

/**
 * Per-mailbox policy (issue 16 item 3). The allow-list is checked against the header From (the
 * original sender: a forwarder rewrites the envelope) and the envelope sender; either may match.
 * Verification mails from the forwarding provider are let through by the caller, since the setup
 * cannot finish without them.
 */
export function checkSenderPolicy({
  allowedSenders,
  refuseDmarcFail,
  headerFrom,
  envelopeFrom,
  dmarc,
}: {
  allowedSenders: string[];
  refuseDmarcFail: boolean;
  headerFrom: string | null;
  envelopeFrom: string | null;
  dmarc: string;
}): SenderRefusal | null {
  if (refuseDmarcFail && dmarc === "fail") return "dmarc_fail";
  const entries = allowedSenders.filter((e) => e.trim());
  if (entries.length === 0) return null;
  const candidates = [headerFrom, envelopeFrom].filter((a): a is string => Boolean(a));
  return candidates.some((a) => entries.some((e) => senderMatches(e, a))) ? null : "sender_not_allowed";
}
