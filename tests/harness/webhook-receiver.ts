import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { Webhook } from "standardwebhooks";

export type ReceivedWebhook = { id: string; timestamp: number; body: string; payload: { type: string; data: Record<string, unknown> } };

/**
 * The Standard Webhooks check done by hand (spec: HMAC-SHA256 keyed with the base64 part of the
 * whsec_ secret, over `${webhook-id}.${webhook-timestamp}.${body}`, any of the space-separated
 * `v1,<base64>` signatures, timestamp within 5 minutes), independent of the code under test.
 */
export function verifyStandardWebhook(secret: string, headers: IncomingMessage["headers"], body: string, nowSeconds = Date.now() / 1000): boolean {
  const id = headers["webhook-id"];
  const ts = headers["webhook-timestamp"];
  const sigs = headers["webhook-signature"];
  if (typeof id !== "string" || typeof ts !== "string" || typeof sigs !== "string") return false;
  if (!/^\d+$/.test(ts) || Math.abs(nowSeconds - Number(ts)) > 300) return false;
  const expected = createHmac("sha256", Buffer.from(secret.replace(/^whsec_/, ""), "base64"))
    .update(`${id}.${ts}.${body}`)
    .digest();
  return sigs.split(" ").some((s) => {
    const [version, sig] = s.split(",");
    if (version !== "v1" || !sig) return false;
    const given = Buffer.from(sig, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/**
 * A local receiver: verifies every request twice (by hand and with the standardwebhooks package),
 * answers 500 to the first `failFirst` valid requests, and can go down (port closed) and come back.
 * "Processing" is idempotent on webhook-id, as the spec asks of receivers.
 */
export async function startWebhookReceiver({ secret, port, failFirst = 0 }: { secret: () => string; port: number; failFirst?: number }): Promise<{
  url: string;
  requests: ReceivedWebhook[];
  processed: Map<string, ReceivedWebhook>;
  badSignatures: number;
  answered500: number;
  down: () => Promise<void>;
  up: () => Promise<void>;
  stop: () => Promise<void>;
}> {
  let server: Server | null = null;
  const state = {
    requests: [] as ReceivedWebhook[],
    processed: new Map<string, ReceivedWebhook>(),
    badSignatures: 0,
    answered500: 0,
  };
  const listen = async (): Promise<void> => {
    const s = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let pkgOk = true;
        try {
          new Webhook(secret()).verify(body, req.headers as Record<string, string>);
        } catch {
          pkgOk = false;
        }
        if (!verifyStandardWebhook(secret(), req.headers, body) || !pkgOk) {
          state.badSignatures++;
          res.writeHead(401).end("bad signature");
          return;
        }
        const hook: ReceivedWebhook = {
          id: req.headers["webhook-id"] as string,
          timestamp: Number(req.headers["webhook-timestamp"]),
          body,
          payload: JSON.parse(body) as ReceivedWebhook["payload"],
        };
        state.requests.push(hook);
        if (state.answered500 < failFirst) {
          state.answered500++;
          res.writeHead(500).end("receiver is failing on purpose");
          return;
        }
        if (!state.processed.has(hook.id)) state.processed.set(hook.id, hook);
        res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
      });
    });
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => resolve());
    });
    server = s;
  };
  const close = async (): Promise<void> => {
    const s = server;
    server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    get requests() {
      return state.requests;
    },
    processed: state.processed,
    get badSignatures() {
      return state.badSignatures;
    },
    get answered500() {
      return state.answered500;
    },
    down: close,
    up: listen,
    stop: close,
  };
}
