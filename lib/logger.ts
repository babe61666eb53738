import pino, { type Logger } from "pino";

/** Paths that could carry a secret; pino replaces their values before a line is written. */
export const REDACT_PATHS = [
  "password",
  "*.password",
  "*.*.password",
  "accessToken",
  "*.accessToken",
  "refreshToken",
  "*.refreshToken",
  "access_token",
  "*.access_token",
  "refresh_token",
  "*.refresh_token",
  "client_secret",
  "*.client_secret",
  "clientSecret",
  "*.clientSecret",
  "authorization",
  "*.authorization",
  "*.headers.authorization",
  "*.headers.cookie",
  "cookie",
  "*.auth.pass",
  "*.auth.accessToken",
  "passwordEncrypted",
  "*.passwordEncrypted",
  "*.oauthAccessTokenEncrypted",
  "*.oauthRefreshTokenEncrypted",
  "*.oauthClientSecretEncrypted",
];

let root: Logger | undefined;

export function getLogger(): Logger {
  root ??= pino({
    level: process.env.LOG_LEVEL ?? "info",
    base: { service: process.env.SERVICE_NAME ?? "web" },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
  return root;
}

export type { Logger };
