import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export type TestCa = { dir: string; caPath: string; ca: string; keyPath: string; certPath: string };

/** A private CA and a server certificate it signed for localhost / 127.0.0.1 (openssl). */
export async function createTestCa(): Promise<TestCa> {
  const dir = await mkdtemp(path.join(tmpdir(), "test-ca-"));
  const p = (name: string): string => path.join(dir, name);
  await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test Inbound CA", "-keyout", p("ca.key"), "-out", p("ca.pem")]);
  await run("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", p("server.key"), "-out", p("server.csr")]);
  await run("bash", ["-c", `printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ${p("ext.cnf")}`]);
  await run("openssl", ["x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", p("ext.cnf"), "-out", p("server.pem")]);
  return { dir, caPath: p("ca.pem"), ca: await readFile(p("ca.pem"), "utf8"), keyPath: p("server.key"), certPath: p("server.pem") };
}
