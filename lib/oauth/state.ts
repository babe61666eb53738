import { createHash, hkdfSync } from "node:crypto";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { emailTypeSchema, type EmailType } from "@/lib/email/email-type";
import { getEnv } from "@/lib/env";
import { oauthProviderSchema, type OAuthProviderName } from "./providers";

/**
 * Seed §7.2 state parameter: an HS256 JWT that expires after 10 minutes, names the pending flow
 * (its `jti` is the oauth_flows row id, which makes it single use), the provider and the mailbox,
 * and is bound to the admin's session by a hash of the session id. It carries no secret: the PKCE
 * verifier stays encrypted in the flow row.
 */
export const STATE_TTL_SECONDS = 600;
const ISSUER = "mailbox-integration";
const AUDIENCE = "oauth-state";

let cachedKey: { secret: string; key: Uint8Array } | undefined;

/** A key of its own, derived from SESSION_SECRET, so a state can never pass for anything else. */
function stateKey(): Uint8Array {
  const secret = getEnv().SESSION_SECRET;
  if (cachedKey?.secret !== secret) {
    const key = new Uint8Array(hkdfSync("sha256", secret, "", "mailbox-oauth-state-v1", 32));
    cachedKey = { secret, key };
  }
  return cachedKey.key;
}

/** Binds a state to a session without putting the session id (even its hash) into a URL. */
export function sessionBinding(sessionId: string): string {
  return createHash("sha256").update(`oauth-state:${sessionId}`).digest("base64url").slice(0, 32);
}

export type OAuthStateClaims = {
  flowId: string;
  provider: OAuthProviderName;
  emailType: EmailType;
  sessionBinding: string;
};

export async function signOAuthState(
  claims: OAuthStateClaims,
  opts: { now?: Date; ttlSeconds?: number } = {},
): Promise<string> {
  const iat = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  return new SignJWT({ p: claims.provider, et: claims.emailType, sb: claims.sessionBinding })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setJti(claims.flowId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + (opts.ttlSeconds ?? STATE_TTL_SECONDS))
    .sign(stateKey());
}

export type StateFailure = "invalid" | "expired" | "wrong_provider" | "wrong_session";

export class OAuthStateError extends Error {
  override name = "OAuthStateError";
  constructor(readonly reason: StateFailure) {
    super(`OAuth state rejected: ${reason}`);
  }
}

const payloadSchema = z.object({
  jti: z.string().regex(/^[A-Za-z0-9_-]{20,100}$/),
  p: oauthProviderSchema,
  et: emailTypeSchema,
  sb: z.string().min(1),
});

/**
 * Checks signature, expiry, provider and session. Single use is enforced by the caller consuming
 * the flow row named by `flowId`.
 */
export async function verifyOAuthState(
  token: string,
  expected: { provider: OAuthProviderName; sessionId: string },
): Promise<OAuthStateClaims> {
  if (token.length > 2048) throw new OAuthStateError("invalid");
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, stateKey(), {
      algorithms: ["HS256"],
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: ["exp", "iat", "jti"],
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new OAuthStateError("expired");
    throw new OAuthStateError("invalid");
  }
  const parsed = payloadSchema.safeParse(payload);
  if (!parsed.success) throw new OAuthStateError("invalid");
  const { jti, p, et, sb } = parsed.data;
  if (p !== expected.provider) throw new OAuthStateError("wrong_provider");
  if (sb !== sessionBinding(expected.sessionId)) throw new OAuthStateError("wrong_session");
  return { flowId: jti, provider: p, emailType: et, sessionBinding: sb };
}
