/**
 * How the full-page OAuth flow (popup blocked) hands its outcome to the settings page: in a short-
 * lived cookie the callback response sets, not in the query string. A link anyone can craft
 * (/settings/email?oauth=error&...) then carries no text: the notice shows only what our server
 * wrote. Shared by the server (callback-page.ts) and the browser (components/oauth-connect.tsx), so
 * it uses web APIs only.
 */
export const OAUTH_RESULT_COOKIE = "mb_oauth_result";
export const OAUTH_RESULT_COOKIE_PATH = "/settings";
export const OAUTH_RESULT_MAX_AGE_SECONDS = 300;

export type OAuthResultCookie = {
  success: boolean;
  message: string;
  connected_email: string | null;
  email_type: string | null;
  provider: string;
};

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** The cookie's value: base64url JSON, so it needs no further cookie escaping. */
export function encodeOAuthResult(result: OAuthResultCookie): string {
  return toBase64Url(new TextEncoder().encode(JSON.stringify(result)));
}

/** Null for anything that is not a value encodeOAuthResult made. */
export function decodeOAuthResult(value: string | undefined | null): OAuthResultCookie | null {
  if (!value) return null;
  try {
    const d = JSON.parse(new TextDecoder().decode(fromBase64Url(value))) as Record<string, unknown>;
    if (typeof d.success !== "boolean" || typeof d.message !== "string" || typeof d.provider !== "string") return null;
    if (d.connected_email !== null && typeof d.connected_email !== "string") return null;
    if (d.email_type !== null && typeof d.email_type !== "string") return null;
    return {
      success: d.success,
      message: d.message,
      connected_email: d.connected_email,
      email_type: d.email_type,
      provider: d.provider,
    };
  } catch {
    return null;
  }
}
