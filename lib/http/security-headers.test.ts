import assert from "node:assert/strict";
import { test } from "node:test";
import { API_CONTENT_SECURITY_POLICY, createNonce, pageContentSecurityPolicy, strictTransportSecurity } from "./security-headers";

test("the page policy allows scripts only by nonce and forbids plugins, <base> and framing", () => {
  const csp = pageContentSecurityPolicy("abc123");
  const directives = new Map(csp.split("; ").map((d) => [d.split(" ")[0]!, d]));
  assert.equal(directives.get("script-src"), "script-src 'self' 'nonce-abc123' 'strict-dynamic'");
  assert.equal(directives.get("object-src"), "object-src 'none'");
  assert.equal(directives.get("base-uri"), "base-uri 'none'");
  assert.equal(directives.get("frame-ancestors"), "frame-ancestors 'none'");
  assert.ok(!csp.includes("unsafe-eval"));
  assert.match(pageContentSecurityPolicy("n", { dev: true }), /script-src 'self' 'nonce-n' 'strict-dynamic' 'unsafe-eval'/);
  assert.match(API_CONTENT_SECURITY_POLICY, /^default-src 'none'/);
});

test("HSTS only for an https APP_URL; nonces differ", () => {
  assert.equal(strictTransportSecurity("https://app.example.com"), "max-age=31536000; includeSubDomains");
  assert.equal(strictTransportSecurity("http://localhost:3000"), null);
  const a = createNonce();
  assert.equal(Buffer.from(a, "base64").length, 16);
  assert.notEqual(a, createNonce());
});
