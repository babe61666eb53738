import { NextResponse, type NextRequest } from "next/server";
import { getEnv } from "@/lib/env";
import { createNonce, pageContentSecurityPolicy, strictTransportSecurity } from "@/lib/http/security-headers";

/**
 * Pages get a nonce-based Content-Security-Policy: a fresh nonce per response, put into the request's
 * CSP header, from which Next takes it for every script it renders (all our pages render per
 * request). API routes, static files and prefetches don't pass through here (see `config`), so
 * request bodies are never buffered by the proxy.
 */
export function proxy(request: NextRequest): NextResponse {
  const nonce = createNonce();
  const csp = pageContentSecurityPolicy(nonce, { dev: process.env.NODE_ENV === "development" });
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set("x-nonce", nonce);
  requestHeaders.set("content-security-policy", csp);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  response.headers.set("content-security-policy", csp);
  const hsts = strictTransportSecurity(getEnv().APP_URL);
  if (hsts) response.headers.set("strict-transport-security", hsts);
  return response;
}

export const config = {
  matcher: [
    {
      source: "/((?!api|_next/static|_next/image|favicon.ico|health|metrics).*)",
      missing: [
        { type: "header", key: "next-router-prefetch" },
        { type: "header", key: "purpose", value: "prefetch" },
      ],
    },
  ],
};
