import { authenticate } from "mailauth";
import type { SenderAuthResults } from "@/lib/db/schema";
import type { DnsResolve } from "./dns-resolver";

type Envelope = { clientIp: string | null; helo: string | null; envelopeFrom: string | null };

/** "::ffff:1.2.3.4" -> "1.2.3.4": SPF evaluates IPv4 rules against the IPv4 address. */
export function normalizeClientIp(ip: string | null | undefined): string | null {
  if (!ip) return null;
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}

type DkimRow = { signingDomain?: string; status?: { result?: string } };

/** One DKIM verdict for the message: pass when any signature passed, else the first signature's result. */
export function summarizeDkim(results: DkimRow[] | undefined): { result: string; domains: string[] } {
  const rows = results ?? [];
  const passed = rows.filter((r) => r.status?.result === "pass");
  if (passed.length > 0) return { result: "pass", domains: passed.map((r) => r.signingDomain ?? "").filter(Boolean) };
  return { result: rows[0]?.status?.result ?? "none", domains: [] };
}

/**
 * SPF, DKIM, DMARC and ARC of a received message (mailauth), with every DNS lookup through the
 * given resolver. A DNS failure makes a result temperror, never an exception: authentication
 * informs the admin, storing the message matters more.
 */
export async function authenticateSender({
  raw,
  envelope,
  mta,
  resolver,
}: {
  raw: Buffer;
  envelope: Envelope;
  mta: string;
  resolver: DnsResolve;
}): Promise<SenderAuthResults & { headerFrom: string[] }> {
  const result = await authenticate(raw, {
    ...(envelope.clientIp ? { ip: envelope.clientIp } : {}),
    ...(envelope.helo ? { helo: envelope.helo } : {}),
    ...(envelope.envelopeFrom ? { sender: envelope.envelopeFrom } : {}),
    mta,
    resolver: resolver as never,
    disableBimi: true,
  });
  const dkim = summarizeDkim(result.dkim?.results as DkimRow[] | undefined);
  const header = (result.headers ?? "")
    .split(/\r?\n(?=\S)/)
    .find((h: string) => /^authentication-results:/i.test(h));
  const status = (r: unknown): string => ((r as { status?: { result?: string } } | false | undefined) || undefined)?.status?.result ?? "none";
  return {
    spf: status(result.spf),
    dkim: dkim.result,
    dmarc: status(result.dmarc),
    arc: status(result.arc),
    dkimDomains: dkim.domains,
    header: header ? header.replace(/^authentication-results:\s*/i, "").replace(/\r?\n\s*/g, " ").trim() : "",
    clientIp: envelope.clientIp,
    helo: envelope.helo,
    envelopeFrom: envelope.envelopeFrom,
    headerFrom: ((result.dkim as { headerFrom?: string[] } | undefined)?.headerFrom ?? []).map((a) => a.toLowerCase()),
  };
}
