import { decodeJwt } from "jose";
import { z } from "zod";
import { getEnv, type Env } from "@/lib/env";
import { OAUTH_PROVIDER_SPECS, type OAuthProviderName, type ProviderEndpoints } from "./providers";
import type { TokenSet } from "./token-response";

const email = z.email().max(320);

/** The claims we read from an id_token or a userinfo answer; everything else is ignored. */
const claimsSchema = z.object({
  aud: z.union([z.string(), z.array(z.string())]).optional(),
  email: z.string().optional(),
  email_verified: z.union([z.boolean(), z.string()]).optional(),
  preferred_username: z.string().optional(),
  upn: z.string().optional(),
});
type Claims = z.infer<typeof claimsSchema>;

/** Which claims name the mailbox, best first, per provider. */
const EMAIL_CLAIMS: Record<OAuthProviderName, (claims: Claims) => (string | undefined)[]> = {
  // Google: `email`, unless Google says it is unverified.
  google: (claims) => (claims.email_verified === false || claims.email_verified === "false" ? [] : [claims.email]),
  // Microsoft: the preferred username / UPN is the sign-in name, which for Exchange Online is the
  // mailbox address; the optional `email` claim may be any address the user typed into their
  // profile, so it only counts when neither is an address.
  microsoft: (claims) => [claims.preferred_username, claims.upn, claims.email],
};

function pickEmail(provider: OAuthProviderName, claims: Claims): string | null {
  for (const c of EMAIL_CLAIMS[provider](claims)) {
    const parsed = email.safeParse(c?.trim());
    if (parsed.success) return parsed.data.toLowerCase();
  }
  return null;
}

/**
 * The id_token came straight from the token endpoint over TLS in answer to our own request, so its
 * signature need not be checked again (OpenID Connect Core §3.1.3.7); it must still be meant for us.
 */
function fromIdToken(provider: OAuthProviderName, idToken: string | null, clientId: string): string | null {
  if (!idToken) return null;
  let decoded: unknown;
  try {
    decoded = decodeJwt(idToken);
  } catch {
    return null;
  }
  const claims = claimsSchema.safeParse(decoded);
  if (!claims.success) return null;
  const aud = claims.data.aud;
  if (aud !== undefined && !(Array.isArray(aud) ? aud.includes(clientId) : aud === clientId)) return null;
  return pickEmail(provider, claims.data);
}

async function getJson(url: string, accessToken: string, timeoutMs: number): Promise<unknown> {
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) {
    await res.body?.cancel();
    return null;
  }
  return res.json().catch(() => null);
}

async function fromUserinfo(provider: OAuthProviderName, url: string | null, accessToken: string, timeoutMs: number): Promise<string | null> {
  if (!url) return null;
  const claims = claimsSchema.safeParse(await getJson(url, accessToken, timeoutMs).catch(() => null));
  return claims.success ? pickEmail(provider, claims.data) : null;
}

const gmailProfileSchema = z.object({ emailAddress: z.string() });
const graphMeSchema = z.object({ mail: z.string().nullish(), userPrincipalName: z.string().nullish() });

/** The mail API's own idea of whose mailbox this is (Gmail profile, Graph /me). */
const MAIL_API_PROFILE: Record<OAuthProviderName, { url: (env: Env) => string; addresses: (body: unknown) => (string | null | undefined)[] }> = {
  google: {
    url: (env) => `${env.GMAIL_API_BASE_URL}/gmail/v1/users/me/profile`,
    addresses: (body) => {
      const parsed = gmailProfileSchema.safeParse(body);
      return parsed.success ? [parsed.data.emailAddress] : [];
    },
  },
  microsoft: {
    url: (env) => `${env.GRAPH_API_BASE_URL}/me`,
    addresses: (body) => {
      const parsed = graphMeSchema.safeParse(body);
      return parsed.success ? [parsed.data.mail, parsed.data.userPrincipalName] : [];
    },
  },
};

async function fromMailApi(provider: OAuthProviderName, accessToken: string, timeoutMs: number): Promise<string | null> {
  const profile = MAIL_API_PROFILE[provider];
  const body: unknown = await getJson(profile.url(getEnv()), accessToken, timeoutMs).catch(() => null);
  for (const c of profile.addresses(body)) {
    const parsed = email.safeParse(c ?? undefined);
    if (parsed.success) return parsed.data.toLowerCase();
  }
  return null;
}

/** The address the admin connected: id_token claims, else OpenID userinfo, else the mail API profile. */
export async function findConnectedEmail(params: {
  provider: OAuthProviderName;
  tokens: TokenSet;
  clientId: string;
  endpoints: ProviderEndpoints;
  /** Graph userinfo can't read a token minted for Outlook's IMAP resource: skip it then. */
  access: "imap" | "gmail_api" | "graph_api";
}): Promise<string | null> {
  const timeoutMs = getEnv().OAUTH_HTTP_TIMEOUT_SECONDS * 1000;
  const { provider, tokens } = params;
  const fromToken = fromIdToken(provider, tokens.idToken, params.clientId);
  if (fromToken) return fromToken;
  const spec = OAUTH_PROVIDER_SPECS[provider];
  if (spec.userinfoAccepts(params.access)) {
    const fromInfo = await fromUserinfo(provider, params.endpoints.userinfo, tokens.accessToken, timeoutMs);
    if (fromInfo) return fromInfo;
  }
  if (!spec.mailApiAccepts(params.access)) return null;
  return fromMailApi(provider, tokens.accessToken, timeoutMs);
}
