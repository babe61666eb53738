import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { resolveMailHost } from "@/lib/email/host-check";

export type PostResult = { statusCode: number | null; response: string };

const SNIPPET_CHARS = 500;

/** Validates a tenant-typed webhook URL: http(s) only, no credentials, host through the mail-host check. */
export async function checkWebhookUrl(raw: string, opts: { allowPrivate: boolean }): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookUrlError("The webhook URL is not a valid URL.");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new WebhookUrlError("The webhook URL must start with https:// or http://.");
  if (url.username || url.password) throw new WebhookUrlError("The webhook URL must not contain a user name or password.");
  try {
    await resolveMailHost(url.hostname, opts);
  } catch (err) {
    throw new WebhookUrlError(err instanceof Error ? err.message : "The webhook host is not allowed.");
  }
  return url;
}

export class WebhookUrlError extends Error {
  override name = "WebhookUrlError";
}

/**
 * POSTs one signed delivery. The host is resolved and checked once (the same rules as mail hosts)
 * and the socket goes to exactly that address: `lookup` answers with it, so a DNS answer that
 * changes between the check and the connect (rebinding) cannot reach an internal address. Host
 * header and TLS SNI stay the URL's name. Never follows redirects.
 */
export async function postWebhook({
  url,
  body,
  headers,
  timeoutMs,
  allowPrivate,
}: {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  allowPrivate: boolean;
}): Promise<PostResult> {
  let target: URL;
  let address: { address: string; family: 4 | 6 };
  try {
    target = new URL(url);
    address = await resolveMailHost(target.hostname, { allowPrivate });
  } catch (err) {
    return { statusCode: null, response: `Not delivered: ${err instanceof Error ? err.message : "invalid URL"}` };
  }
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [address]);
    } else callback(null, address.address, address.family);
  };
  const client = target.protocol === "https:" ? https : http;
  return new Promise<PostResult>((resolve) => {
    const req = client.request(
      target,
      {
        method: "POST",
        lookup,
        timeout: timeoutMs,
        headers: { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body).toString(), "user-agent": "mailbox-webhooks/1" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          // Only the start of the answer is kept for the log: a huge reply must not fill memory.
          if (size < SNIPPET_CHARS * 4) chunks.push(chunk);
          size += chunk.length;
        });
        res.on("end", () => resolve({ statusCode: res.statusCode ?? null, response: Buffer.concat(chunks).toString("utf8").slice(0, SNIPPET_CHARS) }));
        res.on("error", () => resolve({ statusCode: res.statusCode ?? null, response: "" }));
      },
    );
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err: NodeJS.ErrnoException) => resolve({ statusCode: null, response: `Connection failed: ${err.code ?? err.message}`.slice(0, SNIPPET_CHARS) }));
    req.on("close", () => clearTimeout(deadline));
    req.end(body);
  });
}
