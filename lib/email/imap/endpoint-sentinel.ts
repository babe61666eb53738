/**
 * One "sentinel" per server endpoint (issue 13 item 6 at issue 19's idle cost). Asking every idle
 * connection within 2 minutes costs too much at 10,000 mailboxes (docs/benchmarks.md §5), yet a
 * NAT or firewall that freezes usually freezes every flow to the same endpoint at once. So only
 * one connection per endpoint (host:port, plus the resolved address when known) is asked at the
 * short cadence; when it, or any connection, is found dead, every other connection to that
 * endpoint is asked at once (each within the probe timeout) and the dead ones reconnect. All
 * others keep the long passive bound. A single flow whose packets vanish is TCP keepalive's
 * (~15 s, imap-liveness.ts); the passive bound is left for one flow frozen behind a middlebox
 * that still ACKs.
 *
 * Pure bookkeeping: no timers, no sockets; the provider asks and reconnects.
 */
export class EndpointSentinels<Id> {
  /** Per endpoint, its connections in join order; the first is the sentinel. */
  private readonly byEndpoint = new Map<string, Id[]>();

  join(endpoint: string, id: Id): void {
    const ids = this.byEndpoint.get(endpoint) ?? [];
    if (!ids.includes(id)) ids.push(id);
    this.byEndpoint.set(endpoint, ids);
  }

  /**
   * Forgets a connection. Returns the connection that became the sentinel because this one was
   * (it must shorten its bound now), else null.
   */
  leave(endpoint: string, id: Id): Id | null {
    const ids = this.byEndpoint.get(endpoint);
    if (!ids) return null;
    const index = ids.indexOf(id);
    if (index < 0) return null;
    ids.splice(index, 1);
    if (ids.length === 0) {
      this.byEndpoint.delete(endpoint);
      return null;
    }
    return index === 0 ? (ids[0] as Id) : null;
  }

  isSentinel(endpoint: string, id: Id): boolean {
    return this.byEndpoint.get(endpoint)?.[0] === id;
  }

  /** A connection to `endpoint` was found dead: every other connection there, to be asked at once. */
  suspectsAfterDeath(endpoint: string, deadId: Id): Id[] {
    return (this.byEndpoint.get(endpoint) ?? []).filter((id) => id !== deadId);
  }

  /** How many endpoints have a sentinel (one question per bound each while healthy). */
  get endpointCount(): number {
    return this.byEndpoint.size;
  }
}

/** The endpoint key: connections share a path when they share host, port and (when known) address. */
export function endpointKey({ host, port, address }: { host: string; port: number; address?: string }): string {
  return `${host.toLowerCase()}:${String(port)}${address ? `@${address}` : ""}`;
}

/** An IDLE connection's silence bound: short for its endpoint's sentinel, the passive bound for all others. */
export function idleBoundMs({
  isSentinel,
  sentinelBoundMs,
  passiveBoundMs,
}: {
  isSentinel: boolean;
  sentinelBoundMs: number;
  passiveBoundMs: number;
}): number {
  return isSentinel ? Math.min(sentinelBoundMs, passiveBoundMs) : passiveBoundMs;
}
