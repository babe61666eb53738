/**
 * Test harness: one TCP flow on loopback vanishes the way it does when a NAT or stateful firewall
 * loses its state: every packet of that flow (both directions) is dropped, nothing is closed, no
 * RST. Unlike tcp-relay.ts's freeze (a middlebox whose own kernel still ACKs), the peer's kernel
 * hears nothing either, so TCP keepalive sees it. Other flows, and new connections, pass.
 * Uses nftables (Debian package `nftables`, scripts/install-test-deps.sh) and so needs root;
 * without either the suite fails with the reason, it never skips.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);
const tables = new Set<string>();
let counter = 0;

export type Blackhole = { restore: () => Promise<void> };

/** Local ports of the established connections from this machine to 127.0.0.1:serverPort (the clients' side). */
export async function listClientPorts(serverPort: number): Promise<number[]> {
  const { stdout } = await run("ss", ["-Htn", "state", "established", `( dport = :${serverPort} )`]);
  return stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      // Recv-Q Send-Q Local:Port Peer:Port (the state filter leaves the State column out)
      const local = line.trim().split(/\s+/)[2] ?? "";
      return Number(local.slice(local.lastIndexOf(":") + 1));
    })
    .filter((port) => Number.isInteger(port) && port > 0)
    .sort((a, b) => a - b);
}

/** Drops every packet between clientPort and serverPort on loopback until restore(). */
export async function blackholeFlow({ clientPort, serverPort }: { clientPort: number; serverPort: number }): Promise<Blackhole> {
  counter += 1;
  const table = `blackhole_${process.pid}_${counter}`;
  const script = [
    `table inet ${table} {`,
    "  chain out {",
    "    type filter hook output priority 0; policy accept;",
    `    tcp sport ${clientPort} tcp dport ${serverPort} drop`,
    `    tcp sport ${serverPort} tcp dport ${clientPort} drop`,
    "  }",
    "}",
  ].join("\n");
  try {
    await new Promise<void>((resolve, reject) => {
      const child = execFile("nft", ["-f", "-"], (err, _out, stderr) => (err ? reject(new Error(`${err.message} ${stderr}`)) : resolve()));
      child.stdin?.end(script);
    });
  } catch (err) {
    throw new Error(`could not drop a flow with nftables (needs root and the nftables package): ${(err as Error).message}`, { cause: err });
  }
  tables.add(table);
  return {
    restore: async () => {
      if (!tables.delete(table)) return;
      await run("nft", ["delete", "table", "inet", table]);
    },
  };
}

/** Removes every rule this process added (after() hooks; a rule left behind would outlive the test). */
export async function restoreAllFlows(): Promise<void> {
  for (const table of [...tables]) {
    tables.delete(table);
    await run("nft", ["delete", "table", "inet", table]).catch(() => {});
  }
}
