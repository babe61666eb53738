import { createHash, randomUUID } from "node:crypto";
import type { CallbackResult } from "./flow";
import type { OAuthProviderName } from "./providers";
import { OAUTH_RESULT_COOKIE, OAUTH_RESULT_COOKIE_PATH, OAUTH_RESULT_MAX_AGE_SECONDS, encodeOAuthResult } from "./result-cookie";

/** What the popup posts to the settings page (and what the JSON answer of the callback holds). */
export type OAuthResultMessage = {
  type: "mailbox-oauth";
  /** Unique per callback, so a listener that hears it twice (postMessage and BroadcastChannel) acts once. */
  id: string;
  success: boolean;
  message: string;
  connected_email: string | null;
  email_type: string | null;
  provider: OAuthProviderName;
};

export const OAUTH_MESSAGE_TYPE = "mailbox-oauth";
/** Also used by the popup when its opener is gone (a provider page with COOP severs it). */
export const OAUTH_BROADCAST_CHANNEL = "mailbox-oauth";
export const SETTINGS_PATH = "/settings/email";

export function toMessage(result: CallbackResult, provider: OAuthProviderName): OAuthResultMessage {
  return {
    type: OAUTH_MESSAGE_TYPE,
    id: randomUUID(),
    success: result.success,
    message: result.message,
    connected_email: result.connected_email,
    email_type: result.email_type,
    provider,
  };
}

/** JSON that is safe inside an inline <script>: nothing in it can close the tag or break the line. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function html(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Where the full-page (popup blocked) flow lands. The query only says that there is an outcome
 * and for which mailbox; the outcome itself travels in the result cookie (result-cookie.ts), so a
 * crafted link can't put words into the notice.
 */
export function settingsRedirectPath(msg: OAuthResultMessage): string {
  const q = new URLSearchParams({ oauth: msg.success ? "success" : "error" });
  if (msg.email_type) q.set("email_type", msg.email_type);
  return `${SETTINGS_PATH}?${q.toString()}`;
}

/** The Set-Cookie value carrying the outcome to the settings page (readable by its script). */
export function oauthResultCookie(msg: OAuthResultMessage, opts: { secure: boolean }): string {
  const value = encodeOAuthResult({
    success: msg.success,
    message: msg.message,
    connected_email: msg.connected_email,
    email_type: msg.email_type,
    provider: msg.provider,
  });
  return `${OAUTH_RESULT_COOKIE}=${value}; Path=${OAUTH_RESULT_COOKIE_PATH}; Max-Age=${OAUTH_RESULT_MAX_AGE_SECONDS}; SameSite=Lax${opts.secure ? "; Secure" : ""}`;
}

/**
 * The page the provider redirects the popup to. It posts the result to its opener with the exact app
 * origin as target (a page of any other origin that opened the flow learns nothing) and closes; with
 * no opener (popup blocked, so this is the main window) it continues to the settings page.
 */
export function renderCallbackPage(msg: OAuthResultMessage, opts: { appOrigin: string; status: number }): Response {
  const fallback = settingsRedirectPath(msg);
  const script = `(function () {
  var result = ${scriptJson(msg)};
  var origin = ${scriptJson(opts.appOrigin)};
  var fallback = ${scriptJson(fallback)};
  var delivered = false;
  try {
    if (window.opener && !window.opener.closed) {
      window.opener.postMessage(result, origin);
      delivered = true;
    }
  } catch (e) {}
  try {
    var channel = new BroadcastChannel(${scriptJson(OAUTH_BROADCAST_CHANNEL)});
    channel.postMessage(result);
    channel.close();
  } catch (e) {}
  if (delivered) {
    window.close();
    return;
  }
  window.location.replace(fallback);
})();`;
  const scriptHash = createHash("sha256").update(script).digest("base64");
  // Only this exact script may run. Sent as a header and, because the app's global headers replace a
  // route's Content-Security-Policy, also as a <meta> policy (which browsers enforce as well).
  const csp = `default-src 'none'; script-src 'sha256-${scriptHash}'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'`;
  const title = msg.success ? "Mailbox connected" : "Mailbox not connected";
  const body = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta http-equiv="Content-Security-Policy" content="${html(csp)}">
<title>${html(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 0; padding: 2rem; color: #1f2937; }
main { max-width: 28rem; margin: 0 auto; }
h1 { font-size: 1.25rem; }
.ok { color: #166534; } .err { color: #991b1b; }
</style>
</head>
<body>
<main>
<h1 class="${msg.success ? "ok" : "err"}">${html(title)}</h1>
<p role="status">${html(msg.message)}</p>
<p><a href="${html(fallback)}">Back to email settings</a></p>
</main>
<script>${script}</script>
</body>
</html>`;
  return new Response(body, {
    status: opts.status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
      "content-security-policy": `${csp}; frame-ancestors 'none'`,
      "set-cookie": oauthResultCookie(msg, { secure: opts.appOrigin.startsWith("https://") }),
    },
  });
}
