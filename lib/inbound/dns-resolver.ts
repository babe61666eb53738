import { Resolver } from "node:dns/promises";

/** mailauth's resolver shape: dns.promises.resolve(name, rrtype). */
export type DnsResolve = (name: string, rrtype: string) => Promise<unknown>;

/**
 * The resolver SPF/DKIM/DMARC/ARC lookups go through: the system's, or the given servers
 * ("127.0.0.1:5353"): tests publish their DKIM keys on a local DNS server, deployments may
 * point at a validating resolver of their own.
 */
export function createDnsResolver({ servers, timeoutMs = 5000 }: { servers?: string[] | undefined; timeoutMs?: number }): DnsResolve {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (servers && servers.length > 0) resolver.setServers(servers);
  return (name, rrtype) => resolver.resolve(name, rrtype as "TXT") as Promise<unknown>;
}
