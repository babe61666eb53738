/**
 * Per-client-address limits of the inbound SMTP server: open connections, and messages started
 * per sliding minute. In memory: each inbound replica enforces its own share, which is what
 * protects its sockets and its database pool.
 */
export class ClientLimits {
  private readonly open = new Map<string, number>();
  private readonly starts = new Map<string, number[]>();

  constructor(
    private readonly opts: { maxConnectionsPerIp: number; maxMessagesPerMinute: number; now?: () => number },
  ) {}

  /** Counts a new connection; false (and nothing counted) when the address already holds the maximum. */
  openConnection(ip: string): boolean {
    const n = this.open.get(ip) ?? 0;
    if (n >= this.opts.maxConnectionsPerIp) return false;
    this.open.set(ip, n + 1);
    return true;
  }

  closeConnection(ip: string): void {
    const n = (this.open.get(ip) ?? 0) - 1;
    if (n <= 0) this.open.delete(ip);
    else this.open.set(ip, n);
  }

  /** Counts a MAIL FROM; false when the address started the maximum in the last 60 s. */
  startMessage(ip: string): boolean {
    const now = (this.opts.now ?? Date.now)();
    const recent = (this.starts.get(ip) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= this.opts.maxMessagesPerMinute) {
      this.starts.set(ip, recent);
      return false;
    }
    recent.push(now);
    this.starts.set(ip, recent);
    return true;
  }

  openConnections(ip: string): number {
    return this.open.get(ip) ?? 0;
  }
}
