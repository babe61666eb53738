import { lookup as dnsLookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";
import { MailError } from "./provider";

/**
 * Where our servers may connect for a tenant-typed mail host. Everything is parsed with ipaddr.js
 * (so `0::1`, `0:0:0:0:0:0:0:1`, `::ffff:7f00:1` and `127.1` are the addresses they are) and only
 * global unicast is allowed; IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4, Teredo)
 * are judged by the IPv4 address inside.
 */

/** IPv4: only plain unicast; ipaddr.js names every special range (private, loopback, CGNAT, 0/8, link-local with 169.254.169.254, multicast, reserved, benchmarking...). */
function isAllowedIPv4(ip: ipaddr.IPv4): boolean {
  return ip.range() === "unicast";
}

function ipv4FromWords(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

/** The IPv4 addresses an IPv6 address delivers to, for the forms that embed one. */
function embeddedIPv4(ip: ipaddr.IPv6): ipaddr.IPv4[] | null {
  const p = ip.parts as number[];
  const w = (i: number): number => p[i] ?? 0;
  switch (ip.range()) {
    case "ipv4Mapped": // ::ffff:a.b.c.d
    case "rfc6145": // ::ffff:0:a.b.c.d
      return [ipv4FromWords(w(6), w(7))];
    case "rfc6052": // NAT64 64:ff9b::/96 (and the local-use 64:ff9b:1::/48): the last 32 bits
      return [ipv4FromWords(w(6), w(7))];
    case "6to4": // 2002:VVVV:VVVV::/48
      return [ipv4FromWords(w(1), w(2))];
    case "teredo": // 2001:0:SSSS:SSSS:flags:port:~CCCC:~CCCC (server and obfuscated client)
      return [ipv4FromWords(w(2), w(3)), ipv4FromWords(w(6) ^ 0xffff, w(7) ^ 0xffff)];
    default:
      return null;
  }
}

function isAllowedIPv6(ip: ipaddr.IPv6): boolean {
  const embedded = embeddedIPv4(ip);
  if (embedded) return embedded.every(isAllowedIPv4);
  const p = ip.parts as number[];
  // ::/96 (IPv4-compatible, deprecated; includes :: and ::1): ipaddr.js calls most of it unicast.
  if (p.slice(0, 6).every((x) => x === 0)) return false;
  return ip.range() === "unicast";
}

/** True when connecting to this literal address must be refused. Anything unparsable is blocked. */
export function isBlockedAddress(address: string): boolean {
  const text = address.replace(/^\[|\]$/g, "");
  // Zone ids (fe80::1%eth0) only exist for link-local addresses.
  if (text.includes("%")) return true;
  // Canonical forms only: "1.2.3" or "0x7f.1" are names to the system resolver, not addresses here.
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return !isAllowedIPv4(ipaddr.IPv4.parse(text));
  if (ipaddr.IPv6.isValid(text)) return !isAllowedIPv6(ipaddr.IPv6.parse(text));
  return true;
}

export type ResolvedMailHost = {
  /** The checked address to connect to (never the name: a second lookup could answer differently). */
  address: string;
  family: 4 | 6;
  /** TLS SNI and certificate name: the host name as typed; absent for an IP literal (SNI cannot be an IP). */
  servername?: string;
};

export type LookupAll = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemLookup: LookupAll = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** Strips IPv6 brackets; returns the literal if the host is an IP address, else null. */
function parseLiteral(host: string): { address: string; family: 4 | 6 } | null {
  const bracketed = /^\[(.*)\]$/.exec(host);
  const text = bracketed?.[1] ?? host;
  if (bracketed) {
    if (!ipaddr.IPv6.isValid(text)) return null;
    return { address: ipaddr.IPv6.parse(text).toString(), family: 6 };
  }
  if (ipaddr.IPv6.isValid(text)) return { address: ipaddr.IPv6.parse(text).toString(), family: 6 };
  // Only the four-part dotted quad counts as an IPv4 literal; the system resolver handles the rest.
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return { address: text, family: 4 };
  return null;
}

function notAllowed(host: string): MailError {
  return new MailError("host_not_allowed", `The host ${host} is not allowed: it points to a private network.`);
}

/**
 * Resolves the mail host ONCE, checks EVERY address it resolves to, and returns the address to
 * connect to. Connecting by this address (with the name only as TLS servername) is what closes DNS
 * rebinding: a name with TTL 0 that answered a public address here cannot send the connection to
 * loopback a moment later, because nothing looks the name up again. MAIL_ALLOW_PRIVATE_HOSTS
 * (`allowPrivate`) skips the policy, never the single resolution.
 */
export async function resolveMailHost(
  host: string,
  opts: { allowPrivate: boolean; lookup?: LookupAll },
): Promise<ResolvedMailHost> {
  const literal = parseLiteral(host.trim());
  if (literal) {
    if (!opts.allowPrivate && isBlockedAddress(literal.address)) throw notAllowed(host);
    return literal;
  }
  if (/^\[.*\]$/.test(host)) {
    throw new MailError("config", `The host ${host} is not a valid IPv6 address.`);
  }
  const name = host.trim().replace(/\.$/, "");
  if (!opts.allowPrivate && /(^|\.)localhost$/i.test(name)) throw notAllowed(host);
  let answers: { address: string; family: number }[];
  try {
    answers = await (opts.lookup ?? systemLookup)(name);
  } catch (err) {
    throw new MailError("dns", `The mail server name ${host} could not be found (DNS).`, { cause: err });
  }
  if (answers.length === 0) throw new MailError("dns", `The mail server name ${host} could not be found (DNS).`);
  // Every answer is checked, not only the one we use: a name that lists an internal address at
  // all is refused, so the answer order (or a client that falls back) cannot matter.
  if (!opts.allowPrivate && answers.some((a) => isBlockedAddress(a.address))) throw notAllowed(host);
  // IPv4 first: we connect to one checked address (no happy-eyeballs over a second lookup), and many
  // containers have no IPv6 route even where the name has an AAAA record.
  const chosen = (answers.find((a) => a.family === 4) ?? answers[0]) as { address: string; family: number };
  return { address: chosen.address, family: chosen.family === 6 ? 6 : 4, servername: name };
}

/** The host check without the address, for callers that only validate (settings save). */
export async function assertHostAllowed(host: string, opts: { allowPrivate: boolean; lookup?: LookupAll }): Promise<void> {
  await resolveMailHost(host, opts);
}
