import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { simpleParser } from "mailparser";

const root = path.resolve(import.meta.dirname, "..", "..");

export type SinkMail = { envelopeTo: string[]; to: string; from: string; subject: string; text: string; headers: Map<string, unknown> };

export type SmtpSink = {
  port: number;
  /** smtp://127.0.0.1:port, for SMTP_URL. */
  url: string;
  /** Every mail received so far, oldest first, parsed. */
  messages: () => Promise<SinkMail[]>;
  stop: () => Promise<void>;
};

/** A real SMTP server (smtp-server) in its own process, writing what it receives to a temp dir. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "smtp-sink-"));
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "tests/harness/smtp-sink-server.ts")], {
    cwd: root,
    env: { ...process.env, SINK_DIR: dir },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error("the SMTP sink did not start within 20 s")), 20_000);
    child.stdout?.on("data", (c: Buffer) => {
      buf += c.toString();
      const line = buf.split("\n").find((l) => l.startsWith("{"));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.on("exit", (code) => reject(new Error(`the SMTP sink exited with ${code}`)));
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages: async () => {
      const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
      return Promise.all(
        files.map(async (f) => {
          const { envelope, raw } = JSON.parse(readFileSync(path.join(dir, f), "utf8")) as { envelope: { to: string[] }; raw: string };
          const parsed = await simpleParser(Buffer.from(raw, "base64"));
          const addr = (a: typeof parsed.to): string => (Array.isArray(a) ? a.map((x) => x.text).join(", ") : (a?.text ?? ""));
          return { envelopeTo: envelope.to, to: addr(parsed.to), from: parsed.from?.text ?? "", subject: parsed.subject ?? "", text: parsed.text ?? "", headers: parsed.headers as Map<string, unknown> };
        }),
      );
    },
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
