/** Baseline for bench/inbound-smtp.ts: a bare smtp-server that reads DATA and stores nothing. */
import { SMTPServer } from "smtp-server";

const port = Number(process.argv[2] ?? 0);
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ["AUTH", "STARTTLS"],
  logger: false,
  size: 25 * 1024 * 1024,
  onData(stream, _session, callback) {
    stream.on("data", () => {});
    stream.on("end", () => callback(null, "OK"));
  },
});
server.listen(port, "127.0.0.1", () => process.stdout.write("listening\n"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
