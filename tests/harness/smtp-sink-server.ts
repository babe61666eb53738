/**
 * A local SMTP sink in its own process (started by tests/harness/smtp-sink.ts): the real
 * `smtp-server` package accepts every message and writes it, raw, to SINK_DIR as <time>-<n>.eml
 * once fully received. Prints {"port": N} on stdout when listening.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { SMTPServer } from "smtp-server";

const dir = process.env.SINK_DIR;
if (!dir) throw new Error("SINK_DIR is not set");
mkdirSync(dir, { recursive: true });
let n = 0;

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ["STARTTLS"],
  logger: false,
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      const name = `${Date.now()}-${String(++n).padStart(5, "0")}`;
      const envelope = { from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null, to: session.envelope.rcptTo.map((r) => r.address) };
      // Written under a temp name and renamed: a reader never sees half a message.
      writeFileSync(path.join(dir, `${name}.tmp`), JSON.stringify({ envelope, raw: Buffer.concat(chunks).toString("base64") }));
      renameSync(path.join(dir, `${name}.tmp`), path.join(dir, `${name}.json`));
      callback();
    });
  },
});
server.listen(Number(process.env.SINK_PORT ?? 0), "127.0.0.1", () => {
  const address = server.server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 })}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
