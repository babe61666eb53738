/**
 * Response security headers that depend on the request (a CSP nonce) or on the deployment (HSTS).
 * proxy.ts applies them to pages, withRoute (lib/http/route.ts) to route handlers; next.config.mjs
 * keeps the static ones.
 */

/**
 * The pages' policy: scripts only with this response's nonce (Next puts it on its own scripts when
 * it finds it in the request's CSP) and what they load ('strict-dynamic'); no plugins, no <base>
 * rewriting, no framing. Styles allow inline attributes: React's style props are attributes, which
 * a nonce can't cover, and a style can't run code.
 */
export function pageContentSecurityPolicy(nonce: string, opts: { dev?: boolean } = {}): string {
  return [
    "default-src 'self'",
    // React's development build needs eval for its error overlays; production never does.
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${opts.dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** Route handlers answer JSON or text: nothing in them may load or run anything. */
export const API_CONTENT_SECURITY_POLICY = "default-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** One year, subdomains included; only sent when the app is served over https (APP_URL). */
export function strictTransportSecurity(appUrl: string): string | null {
  return appUrl.startsWith("https://") ? "max-age=31536000; includeSubDomains" : null;
}

/** 16 random bytes, base64: unguessable per response. */
export function createNonce(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("base64");
}
