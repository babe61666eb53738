import { JWT } from "google-auth-library";
import { z } from "zod";
import { MailError } from "@/lib/email/provider";

/**
 * Tokens for organisation mailboxes (issue 18), where no user signs in:
 * - Microsoft app-only Graph: the OAuth 2.0 client credentials grant against the tenant's Entra
 *   token endpoint, scope `https://graph.microsoft.com/.default` (the application permissions the
 *   admin consented to, e.g. Mail.ReadWrite). A plain form POST rather than @azure/msal-node:
 *   MSAL would first fetch instance-discovery and OpenID metadata from login.microsoftonline.com
 *   (which must be faked or disabled for a local authority), keep its own token cache beside ours
 *   and hide the exact request; this grant is one documented request whose bytes a unit test pins.
 * - Google Workspace domain-wide delegation: google-auth-library's JWT client with `subject` (the
 *   mailbox address it impersonates) and scope gmail.modify; the JWT bearer grant (RFC 7523). Its
 *   token URL is fixed in the library, so requests are redirected to GOOGLE_OAUTH_TOKEN_URL by a
 *   transporter interceptor (the JWT's `aud` stays Google's documented token URL).
 */

/** Graph's resource for client credentials: `.default` = every application permission granted. */
export const GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default";
export const GMAIL_DELEGATION_SCOPE = "https://www.googleapis.com/auth/gmail.modify";
/** What gtoken puts into `aud`, and where Google expects the JWT bearer grant. */
export const GOOGLE_DOCUMENTED_TOKEN_URL = "https://oauth2.googleapis.com/token";

export type OrgToken = { accessToken: string; expiresAt: Date | null };

export type TokenHttpRequest = { url: string; headers: Record<string, string>; body: string };

/** The client credentials request exactly as sent (client_secret_post, as Entra documents it). */
export function buildClientCredentialsRequest(opts: { tokenUrl: string; clientId: string; clientSecret: string; scope?: string }): TokenHttpRequest {
  const body = new URLSearchParams({
    client_id: opts.clientId,
    client_secret: opts.clientSecret,
    scope: opts.scope ?? GRAPH_DEFAULT_SCOPE,
    grant_type: "client_credentials",
  });
  return {
    url: opts.tokenUrl,
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: body.toString(),
  };
}

const tokenSchema = z.object({
  access_token: z.string().min(1),
  expires_in: z.union([z.number().nonnegative(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
});
const errorSchema = z.object({ error: z.string(), error_description: z.string().optional() });

/** Only safe parts of an error description: Entra's AADSTS code, never the text (it may echo ids). */
function aadstsCode(description: string | undefined): string | null {
  return /AADSTS\d{5,7}/.exec(description ?? "")?.[0] ?? null;
}

/** Why Entra refused, for the admin (codes from the Entra error-code reference). */
function microsoftRefusal(error: string, description: string | undefined): MailError {
  const aad = aadstsCode(description);
  const detail = `${error}${aad ? ` ${aad}` : ""}`;
  if (aad === "AADSTS7000215" || aad === "AADSTS7000222") {
    return new MailError("needs_reauth", `Microsoft refused the app's client secret (${detail}): it is wrong or has expired. Enter a new client secret.`);
  }
  if (aad === "AADSTS700016") {
    return new MailError("needs_reauth", `Microsoft does not know this application in the tenant (${detail}). Check the tenant and client id, and that the admin consented.`);
  }
  if (aad === "AADSTS90002" || aad === "AADSTS900023") {
    return new MailError("needs_reauth", `Microsoft does not know this tenant (${detail}). Check the tenant id.`);
  }
  if (error === "invalid_client" || error === "unauthorized_client" || error === "invalid_grant" || error === "consent_required") {
    return new MailError("needs_reauth", `Microsoft refused the app-only token (${detail}). Check the app registration and the admin consent, then save again.`);
  }
  return new MailError("auth", `Microsoft refused the app-only token (${detail}).`);
}

async function postForm(req: TokenHttpRequest, timeoutMs: number, label: string): Promise<Response> {
  try {
    return await fetch(req.url, { method: "POST", headers: req.headers, body: req.body, signal: AbortSignal.timeout(timeoutMs), redirect: "error" });
  } catch (err) {
    throw new MailError("network", `${label}'s token endpoint could not be reached; will retry.`, { cause: { code: (err as { name?: string }).name ?? "fetch_failed" } });
  }
}

export async function requestClientCredentialsToken(opts: {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  timeoutMs: number;
  now?: () => number;
}): Promise<OrgToken> {
  const now = opts.now ?? Date.now;
  const started = now();
  const res = await postForm(buildClientCredentialsRequest(opts), opts.timeoutMs, "Microsoft");
  const text = await res.text().catch(() => "");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  if (res.ok) {
    const parsed = tokenSchema.safeParse(json);
    if (!parsed.success) throw new MailError("protocol", "Microsoft's token endpoint answered without a usable access token.");
    const { access_token, expires_in } = parsed.data;
    return { accessToken: access_token, expiresAt: expires_in === undefined ? null : new Date(started + expires_in * 1000) };
  }
  if (res.status >= 500 || res.status === 429) throw new MailError("network", `Microsoft's token endpoint failed (HTTP ${res.status}); will retry.`);
  const err = errorSchema.safeParse(json);
  if (!err.success) throw new MailError("protocol", `Microsoft's token endpoint answered HTTP ${res.status}.`);
  throw microsoftRefusal(err.data.error, err.data.error_description);
}

/** A Google service account key file (the JSON the Cloud console downloads). */
export const serviceAccountKeySchema = z
  .object({
    type: z.literal("service_account", "The key must be a service account key (type \"service_account\")."),
    client_email: z.email("The key has no valid client_email."),
    private_key: z.string().includes("PRIVATE KEY", { message: "The key has no private_key." }),
    client_id: z.string().regex(/^\d{1,40}$/, "The key has no numeric client_id.").optional(),
    private_key_id: z.string().optional(),
    project_id: z.string().optional(),
  })
  .loose();
export type ServiceAccountKey = z.infer<typeof serviceAccountKeySchema>;

/** Parses pasted or uploaded key JSON; the error never quotes the input (it holds a private key). */
export function parseServiceAccountKey(text: string): ServiceAccountKey {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new MailError("config", "The service account key is not valid JSON.");
  }
  const parsed = serviceAccountKeySchema.safeParse(json);
  if (!parsed.success) throw new MailError("config", parsed.error.issues[0]?.message ?? "The service account key is not valid.");
  return parsed.data;
}

/** What an admin sees about a stored key: enough to recognise it, nothing secret. */
export function describeServiceAccountKey(key: ServiceAccountKey): { client_email: string; client_id: string | null; private_key_id: string | null } {
  return { client_email: key.client_email, client_id: key.client_id ?? null, private_key_id: key.private_key_id ?? null };
}

function googleRefusal(error: string, description: string | undefined, subject: string, key: ServiceAccountKey): MailError {
  const desc = description ?? "";
  if (error === "unauthorized_client") {
    return new MailError(
      "needs_reauth",
      `Google refused domain-wide delegation (unauthorized_client): in the Admin console (Security > API controls > Domain-wide delegation) client id ${key.client_id ?? key.client_email} must be allowed the scope ${GMAIL_DELEGATION_SCOPE}.`,
    );
  }
  if (error === "invalid_grant" && /invalid email or user id/i.test(desc)) {
    return new MailError("needs_reauth", `Google does not know ${subject} as a user of the Workspace domain (invalid_grant). Check the mailbox address.`);
  }
  if (error === "invalid_grant" && /signature/i.test(desc)) {
    return new MailError("needs_reauth", "Google refused the service account key (invalid_grant: invalid JWT signature): the key was deleted or replaced. Upload a current key.");
  }
  if (error === "invalid_grant" || error === "invalid_client" || error === "access_denied") {
    return new MailError("needs_reauth", `Google refused the delegated token for ${subject} (${error}). Check the service account key and the delegation, then save again.`);
  }
  return new MailError("auth", `Google refused the delegated token for ${subject} (${error}).`);
}

type GaxiosLikeError = { response?: { status?: number; data?: unknown }; code?: string; name?: string };

/**
 * A delegated Gmail access token for `subject`. One JWT client per call: the caller (the org token
 * source) caches the token, and a new client means no stale token cached inside the library.
 */
export async function requestDelegatedGmailToken(opts: {
  key: ServiceAccountKey;
  subject: string;
  tokenUrl: string;
  timeoutMs: number;
  scopes?: string[];
}): Promise<OrgToken> {
  const jwt = new JWT({
    email: opts.key.client_email,
    key: opts.key.private_key,
    ...(opts.key.private_key_id ? { keyId: opts.key.private_key_id } : {}),
    scopes: opts.scopes ?? [GMAIL_DELEGATION_SCOPE],
    subject: opts.subject,
  });
  jwt.transporter.interceptors.request.add({
    resolved: async (config) => {
      // gtoken posts to Google's fixed URL; a configured one (tests, proxies) takes its place.
      if (String(config.url) === GOOGLE_DOCUMENTED_TOKEN_URL) config.url = new URL(opts.tokenUrl);
      config.timeout = opts.timeoutMs;
      config.retry = false;
      return config;
    },
  });
  try {
    const token = await jwt.authorize();
    if (!token.access_token) throw new MailError("protocol", "Google's token endpoint answered without an access token.");
    return { accessToken: token.access_token, expiresAt: token.expiry_date ? new Date(token.expiry_date) : null };
  } catch (err) {
    if (err instanceof MailError) throw err;
    const e = err as GaxiosLikeError;
    const status = e.response?.status;
    if (status === undefined) throw new MailError("network", "Google's token endpoint could not be reached; will retry.", { cause: { code: e.code ?? e.name ?? "error" } });
    if (status >= 500 || status === 429) throw new MailError("network", `Google's token endpoint failed (HTTP ${status}); will retry.`);
    const body = errorSchema.safeParse(e.response?.data);
    if (!body.success) throw new MailError("protocol", `Google's token endpoint answered HTTP ${status}.`);
    throw googleRefusal(body.data.error, body.data.error_description, opts.subject, opts.key);
  }
}
