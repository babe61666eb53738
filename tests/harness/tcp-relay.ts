/**
 * Test harness: a TCP relay between a client (the watcher) and a server (Dovecot) that can go
 * silent the way a dropped NAT/firewall flow does: no FIN, no RST, nothing. `freeze()` stops
 * reading both sides of every connection it holds without closing them: the client's writes still
 * succeed into kernel buffers and nothing ever comes back. New connections are relayed normally,
 * so a client that gives up and reconnects gets through. Recipe: /work/shared/TESTING.md,
 * "Silent network failures".
 *
 * Modes for servers that misbehave from the first byte:
 * - "silent": accepts and never sends anything (no greeting);
 * - "trickle": sends an endless greeting line, one byte every 200 ms, never a line end.
 */
import net from "node:net";

export type TcpRelayMode = "relay" | "silent" | "trickle";

export type TcpRelay = {
  port: number;
  /** Connections accepted so far (a reconnect shows up as one more). */
  readonly accepted: number;
  /** Connections currently held open. */
  readonly open: number;
  /** Freezes every connection held now; later ones are relayed. */
  freeze: () => void;
  /** Destroys every held connection and stops listening. */
  close: () => Promise<void>;
};

type Pair = { client: net.Socket; server: net.Socket | null; frozen: boolean; timer?: NodeJS.Timeout };

export async function startTcpRelay({
  targetHost = "127.0.0.1",
  targetPort = 0,
  mode = "relay",
}: {
  targetHost?: string;
  targetPort?: number;
  mode?: TcpRelayMode;
}): Promise<TcpRelay> {
  const pairs = new Set<Pair>();
  let accepted = 0;
  const drop = (pair: Pair): void => {
    // A frozen pair is never torn down by its peers: that is the point of freezing it.
    if (pair.frozen) return;
    clearInterval(pair.timer);
    pair.client.destroy();
    pair.server?.destroy();
    pairs.delete(pair);
  };
  const listener = net.createServer((client) => {
    accepted += 1;
    const pair: Pair = { client, server: null, frozen: false };
    pairs.add(pair);
    client.on("error", () => drop(pair));
    client.on("close", () => drop(pair));
    if (mode === "silent") return;
    if (mode === "trickle") {
      client.write("* OK ");
      pair.timer = setInterval(() => client.write("x"), 200);
      return;
    }
    const server = net.connect({ host: targetHost, port: targetPort });
    pair.server = server;
    server.on("error", () => drop(pair));
    server.on("close", () => drop(pair));
    client.pipe(server);
    server.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(0, "127.0.0.1", () => resolve());
  });
  const address = listener.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    freeze: () => {
      for (const pair of pairs) {
        pair.frozen = true;
        clearInterval(pair.timer);
        // Unpipe and pause: bytes stay in the kernel buffers on both sides, unread, forever.
        pair.client.unpipe();
        pair.server?.unpipe();
        pair.client.pause();
        pair.server?.pause();
      }
    },
    close: async () => {
      for (const pair of pairs) {
        pair.frozen = false;
        clearInterval(pair.timer);
        pair.client.destroy();
        pair.server?.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}
