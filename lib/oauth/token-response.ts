import {
  ArcticFetchError,
  OAuth2RequestError,
  UnexpectedErrorResponseBodyError,
  UnexpectedResponseError,
  type OAuth2Tokens,
} from "arctic";
import { z } from "zod";

/** A token endpoint answer is `unknown` until it has passed this schema. */
const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.union([z.number().nonnegative(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
  refresh_token: z.string().min(1).optional(),
  scope: z.string().optional(),
  id_token: z.string().min(1).optional(),
});

export type TokenSet = {
  accessToken: string;
  refreshToken: string | null;
  expiresAt: Date | null;
  scopes: string[] | null;
  idToken: string | null;
};

export class TokenResponseError extends Error {
  override name = "TokenResponseError";
}

export function parseTokenResponse(tokens: OAuth2Tokens, now = Date.now()): TokenSet {
  const data: unknown = tokens.data;
  const parsed = tokenResponseSchema.safeParse(data);
  // The issues would quote the body, which holds tokens: say only what is wrong.
  if (!parsed.success) throw new TokenResponseError("The token endpoint answered without a usable access token.");
  const t = parsed.data;
  return {
    accessToken: t.access_token,
    refreshToken: t.refresh_token ?? null,
    expiresAt: t.expires_in === undefined ? null : new Date(now + t.expires_in * 1000),
    scopes: t.scope ? t.scope.split(/\s+/).filter(Boolean) : null,
    idToken: t.id_token ?? null,
  };
}

/**
 * What a failed call to an OAuth endpoint means for us:
 * - grant: the refresh token or code is no longer valid (revoked, expired, consent withdrawn): reconnect.
 * - client: the app registration is refused (wrong/expired client secret): fix the app, then reconnect.
 * - network: the provider could not be reached or failed (timeouts, 5xx, 429): retry later.
 * - protocol: anything else the provider rejected.
 */
export type OAuthFailureKind = "grant" | "client" | "network" | "protocol";

export type OAuthFailure = { kind: OAuthFailureKind; code: string };

const GRANT_ERRORS = new Set(["invalid_grant", "interaction_required", "consent_required", "login_required"]);
const CLIENT_ERRORS = new Set(["invalid_client", "unauthorized_client"]);

export class OAuthTimeoutError extends Error {
  override name = "OAuthTimeoutError";
}

export function classifyOAuthError(err: unknown): OAuthFailure {
  if (err instanceof OAuth2RequestError) {
    const code = /^[a-z_]{1,64}$/.test(err.code) ? err.code : "oauth_error";
    if (GRANT_ERRORS.has(code)) return { kind: "grant", code };
    if (CLIENT_ERRORS.has(code)) return { kind: "client", code };
    if (code === "temporarily_unavailable" || code === "server_error") return { kind: "network", code };
    return { kind: "protocol", code };
  }
  if (err instanceof ArcticFetchError || err instanceof OAuthTimeoutError) return { kind: "network", code: "unreachable" };
  if (err instanceof UnexpectedResponseError || err instanceof UnexpectedErrorResponseBodyError) {
    const status = err.status;
    if (status >= 500 || status === 429 || status === 408) return { kind: "network", code: `http_${status}` };
    return { kind: "protocol", code: `http_${status}` };
  }
  if (err instanceof TokenResponseError) return { kind: "protocol", code: "bad_token_response" };
  return { kind: "protocol", code: "unexpected" };
}

/** arctic's requests take no AbortSignal: bound the wait instead. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OAuthTimeoutError(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
