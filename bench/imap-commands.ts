/**
 * IMAP commands per new message on the watcher's path, counted on the wire.
 *
 *   npx tsx bench/imap-commands.ts [--messages 20]
 *
 * A private Dovecot (needs root, as the tests), a TCP proxy in front of it that counts the tagged
 * commands the client sends (and DONE, which ends IDLE), and the IMAP provider the watcher uses,
 * driven the way MailboxConnection.sync() drives it: wait for a change (IDLE), fetch new, mark
 * read, wait again. One message is APPENDed at a time, so every command is the cost of one message.
 */
import net from "node:net";
import { parseArgs } from "node:util";
import { ImapProvider } from "@/lib/email/imap/imap-provider";
import { makeMessage, startDovecot } from "@/tests/harness/dovecot";

const { values: args } = parseArgs({ options: { messages: { type: "string", default: "20" } } });
const MESSAGES = Number(args.messages);

async function main(): Promise<void> {
  const dovecot = await startDovecot({ users: [{ name: "cmd", password: "pw-cmd" }] });
  const counts = new Map<string, number>();
  let counting = false;
  const proxy = net.createServer((client) => {
    const upstream = net.connect(dovecot.imapPort, dovecot.host);
    let pending = "";
    client.on("data", (chunk: Buffer) => {
      pending += chunk.toString("latin1");
      let nl: number;
      while ((nl = pending.indexOf("\r\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 2);
        // "A12 UID FETCH ..." -> "UID FETCH"; "DONE" ends IDLE.
        const m = /^(UID \w+|\w+)/.exec(line === "DONE" ? "DONE" : line.slice(line.indexOf(" ") + 1));
        if (counting && m) counts.set(m[1]!.toUpperCase(), (counts.get(m[1]!.toUpperCase()) ?? 0) + 1);
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const port = (proxy.address() as net.AddressInfo).port;
  const provider = new ImapProvider({
    host: "127.0.0.1",
    port,
    tlsMode: "none",
    allowInvalidCertificate: true,
    auth: { user: "cmd", pass: "pw-cmd" },
    folder: "INBOX",
    useIdle: true,
    idleTimeoutMs: 25 * 60_000,
    connectTimeoutMs: 10_000,
  });
  const abort = new AbortController();
  try {
    await provider.connect();
    // The connect-time sync (baseline + first listing) is not part of the per-message cost.
    await provider.fetchNew({ maxCount: 50, maxBytes: 32 * 1024 * 1024 });
    counting = true;
    for (let i = 0; i < MESSAGES; i++) {
      const waiting = provider.waitForChange({ timeoutMs: 60_000, signal: abort.signal });
      await dovecot.append("cmd", makeMessage({ subject: `count ${i}` }));
      if ((await waiting) !== "changed") throw new Error("no EXISTS");
      const { messages } = await provider.fetchNew({ maxCount: 50, maxBytes: 32 * 1024 * 1024 });
      if (messages.length !== 1) throw new Error(`expected 1 message, got ${messages.length}`);
      await provider.applyAfterIngest(messages.map((m) => m.providerMessageId));
    }
    // Each message's IDLE was sent by the waitForChange that announced it.
    counting = false;
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    process.stdout.write(
      `${JSON.stringify({ messages: MESSAGES, commands_per_message: +(total / MESSAGES).toFixed(2), by_command: Object.fromEntries([...counts].map(([k, v]) => [k, +(v / MESSAGES).toFixed(2)])) }, null, 2)}\n`,
    );
  } finally {
    abort.abort();
    await provider.disconnect();
    proxy.close();
    await dovecot.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
