/**
 * Test harness: a tiny authoritative DNS server over UDP that answers TXT queries from a table
 * the test fills (DKIM keys, SPF and DMARC policies) and NXDOMAIN for every other name. The
 * inbound SMTP process is pointed at it with INBOUND_DNS_SERVERS, so mailauth's lookups go to
 * records the test published, not to the internet.
 */
import dgram from "node:dgram";
import type { AddressInfo } from "node:net";

export type TestDnsServer = {
  port: number;
  /** Publishes (replaces) the TXT strings of a name. */
  setTxt: (name: string, values: string[]) => void;
  /** Names asked for, in order ("TXT default._domainkey.example.com"). */
  queries: string[];
  close: () => Promise<void>;
};

const TYPE_NAMES: Record<number, string> = { 1: "A", 15: "MX", 16: "TXT", 28: "AAAA" };

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = offset;
  while (i < msg.length) {
    const len = msg[i] ?? 0;
    if (len === 0) return { name: labels.join("."), end: i + 1 };
    labels.push(msg.subarray(i + 1, i + 1 + len).toString("latin1"));
    i += 1 + len;
  }
  throw new Error("truncated query");
}

function txtRdata(values: string[]): Buffer {
  const parts: Buffer[] = [];
  for (const value of values) {
    const bytes = Buffer.from(value, "utf8");
    // A TXT record is a list of <=255-byte character strings; resolvers join them back.
    for (let i = 0; i < bytes.length || i === 0; i += 255) {
      const chunk = bytes.subarray(i, i + 255);
      parts.push(Buffer.from([chunk.length]), chunk);
      if (bytes.length === 0) break;
    }
  }
  return Buffer.concat(parts);
}

export async function startTestDnsServer(): Promise<TestDnsServer> {
  const records = new Map<string, string[][]>();
  const queries: string[] = [];
  const socket = dgram.createSocket("udp4");
  socket.on("message", (msg, rinfo) => {
    try {
      const id = msg.readUInt16BE(0);
      const { name, end } = readName(msg, 12);
      const qtype = msg.readUInt16BE(end);
      const question = msg.subarray(12, end + 4);
      queries.push(`${TYPE_NAMES[qtype] ?? qtype} ${name}`);
      const txt = records.get(name.toLowerCase());
      const answers: Buffer[] = [];
      if (txt && qtype === 16) {
        for (const values of txt) {
          const rdata = txtRdata(values);
          const rr = Buffer.alloc(12);
          rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
          rr.writeUInt16BE(16, 2);
          rr.writeUInt16BE(1, 4);
          rr.writeUInt32BE(60, 6);
          rr.writeUInt16BE(rdata.length, 10);
          answers.push(rr, rdata);
        }
      }
      const header = Buffer.alloc(12);
      header.writeUInt16BE(id, 0);
      // QR + AA + RD copied; RCODE 3 (NXDOMAIN) for a name with no records at all.
      header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | (txt ? 0 : 3), 2);
      header.writeUInt16BE(1, 4);
      header.writeUInt16BE(txt && qtype === 16 ? txt.length : 0, 6);
      socket.send(Buffer.concat([header, question, ...answers]), rinfo.port, rinfo.address);
    } catch {
      // a malformed packet gets no answer
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    port: (socket.address() as AddressInfo).port,
    setTxt: (name, values) => records.set(name.toLowerCase().replace(/\.$/, ""), values.map((v) => [v])),
    queries,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
