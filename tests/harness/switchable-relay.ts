/**
 * Test harness: a TCP relay that can be cut like a database that went down: `cut()` resets every
 * held connection and refuses new ones (immediate reset), `restore()` relays again. Used between
 * the inbound SMTP process and PostgreSQL.
 */
import net from "node:net";
import type { AddressInfo } from "node:net";

export type SwitchableRelay = { port: number; cut: () => void; restore: () => void; close: () => Promise<void> };

export async function startSwitchableRelay({ targetHost, targetPort }: { targetHost: string; targetPort: number }): Promise<SwitchableRelay> {
  let down = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const drop = (): void => {
      sockets.delete(client);
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut: () => {
      down = true;
      for (const s of sockets) s.resetAndDestroy();
      sockets.clear();
    },
    restore: () => {
      down = false;
    },
    close: async () => {
      down = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
