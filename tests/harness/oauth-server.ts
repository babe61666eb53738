/**
 * Test harness: a real OAuth 2.0 / OpenID Connect server from npm (`oauth2-mock-server`) running
 * locally as BOTH Google's and Microsoft's authorization server, reached by the app through its
 * endpoint configuration (see `env()`).
 *
 * The package does the protocol work: the authorization endpoint (it approves at once and redirects
 * with a code), PKCE verification, signed JWT access and id tokens, JWKS. Around its request handler,
 * in the same HTTP server, this harness adds what a test of a mail integration needs and the package
 * lacks:
 * - Microsoft's URL shape: /{tenant}/oauth2/v2.0/authorize and /token (the tenant is recorded);
 * - registered clients (client id + secret) checked at the token endpoint (`invalid_client`);
 * - one identity (email) per authorization, in the id_token, the access token and /userinfo;
 * - authorization codes that are single use and bound to client and redirect URI;
 * - refresh tokens that are tracked per grant, rotated on every use (the old one stops working),
 *   and revocable (RFC 7009 /revoke, or `revokeGrant()`): a dead one gets `invalid_grant`;
 * - scripted denials (`access_denied`), token endpoint outages, and short token lifetimes;
 * - an RFC 7662 introspection endpoint that Dovecot's oauth2 passdb can use: form-encoded `token`,
 *   answered with `{active, username}` after checking the JWT against the server's own keys.
 * - organisation grants (issue 18): Microsoft's client credentials grant (the package issues the
 *   token; this harness checks the client, the `/.default` scope and the tenant's admin consent,
 *   and puts `roles`, `appid`, `tid`, `idtyp: "app"` in it), and Google's JWT bearer grant for
 *   domain-wide delegation (RFC 7523, which the package lacks: handled here), checking the
 *   service account's signature, `aud`, lifetime, the delegated scopes and the Workspace user,
 *   with Google's documented error bodies. `resolveToken` tells the mail fakes who a token is.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet, type JWTPayload } from "jose";
import { OAuth2Server, type MutableRedirectUri, type MutableResponse, type MutableToken } from "oauth2-mock-server";

export type Provider = "google" | "microsoft";

export type TokenRequestRecord = {
  provider: Provider;
  grantType: string;
  clientId: string | null;
  tenant: string | null;
  scope: string | null;
  outcome: "ok" | string;
  at: number;
};

export type IntrospectionRecord = { token: string; active: boolean; username: string | null; at: number };

type Grant = {
  id: string;
  provider: Provider;
  email: string;
  clientId: string;
  scope: string;
  tenant: string | null;
  revoked: boolean;
  /** The one refresh token that works now (rotation kills the previous one). */
  refreshToken: string | null;
  refreshCount: number;
};

type PendingCode = {
  provider: Provider;
  email: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  tenant: string | null;
  used: boolean;
};

type ScriptedAuthorization = { provider?: Provider; email?: string; error?: string };

export type OAuthTestServer = {
  /** Origin of the server, e.g. http://127.0.0.1:41234 */
  url: string;
  /** For Dovecot's oauth2 passdb (`introspection_url`). */
  introspectionUrl: string;
  /** The platform apps' credentials that `env()` hands to the app. */
  clients: { google: { id: string; secret: string }; microsoft: { id: string; secret: string } };
  /** Environment for the web app / watcher: every OAuth endpoint points here. */
  env(): Record<string, string>;
  /** Registers another app (a tenant's own registration). */
  addClient(id: string, secret: string | null): void;
  /** Who signs in when nothing is scripted. */
  setDefaultUser(provider: Provider, email: string): void;
  /** The next authorization (of that provider, if given) signs in as `email`, or fails with `error`. */
  scriptNextAuthorization(script: ScriptedAuthorization): void;
  /** Lifetime of access tokens issued from now on. */
  setAccessTokenTtl(seconds: number): void;
  /** "down": the token endpoint drops connections; "error": it answers 503; "up": normal. */
  setTokenEndpoint(mode: "up" | "down" | "error"): void;
  /** Makes the token endpoint answer this much later (to let concurrent refreshes collide). */
  setTokenDelay(ms: number): void;
  /** Every access, refresh and id token ever issued: none may appear in a response, log or in clear in the DB. */
  issuedSecrets(): string[];
  /** Ends every grant of this user (as if consent were withdrawn): refresh → invalid_grant. */
  revokeGrant(email: string): void;
  /** The current refresh token of the user's newest grant (to compare with what the app stored). */
  currentRefreshToken(email: string): string | null;
  grantsOf(email: string): ReadonlyArray<Readonly<Grant>>;
  /** Issue 18: the Entra admin consents application permissions (e.g. Mail.ReadWrite) for an app in a tenant. */
  consentApp(opts: { clientId: string; secret: string; tenant: string; roles: string[] }): void;
  /** Changes (or with null removes) the app's consent: later client credentials tokens follow it. */
  setAppRoles(clientId: string, roles: string[] | null): void;
  /** A Google service account with a fresh RSA key; returns the key file JSON as the console downloads it. */
  addServiceAccount(opts?: { email?: string }): { key: Record<string, string>; clientId: string; clientEmail: string };
  /** Admin console domain-wide delegation for the service account's client id (null = removed). */
  setDomainWideDelegation(clientId: string, scopes: string[] | null): void;
  /** Users of the Workspace domain (a delegation subject must be one). */
  addWorkspaceUser(email: string): void;
  removeWorkspaceUser(email: string): void;
  /** Who a token the server issued speaks for, or null (bad signature, expired, grant revoked). */
  resolveToken(token: string): Promise<{ kind: "user"; email: string; scope: string } | { kind: "app"; appId: string; tenant: string; roles: string[] } | null>;
  /** The JWT bearer assertions received (decoded claims and header), for byte-level checks. */
  jwtAssertions: { header: Record<string, unknown>; claims: JWTPayload }[];
  tokenRequests: TokenRequestRecord[];
  introspections: IntrospectionRecord[];
  revocations: { token: string; found: boolean }[];
  authorizeRequests: URL[];
  stop(): Promise<void>;
};

const MS_PATH = /^\/([A-Za-z0-9.-]+)\/oauth2\/v2\.0\/(authorize|token)$/;

type ProviderRequest = IncomingMessage & { oauthProvider?: Provider; oauthTenant?: string | null; body?: Record<string, unknown> };

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

/** Client authentication as RFC 6749 §2.3.1: HTTP Basic, or client_id (+ client_secret) in the body. */
function clientCredentials(req: ProviderRequest): { id: string | null; secret: string | null } {
  const header = req.headers.authorization ?? "";
  const m = /^Basic\s+(\S+)$/i.exec(header);
  if (m?.[1]) {
    const decoded = Buffer.from(m[1], "base64").toString("utf8");
    const i = decoded.indexOf(":");
    if (i > 0) return { id: decodeURIComponent(decoded.slice(0, i)), secret: decodeURIComponent(decoded.slice(i + 1)) };
  }
  const body = req.body ?? {};
  return {
    id: typeof body.client_id === "string" ? body.client_id : null,
    secret: typeof body.client_secret === "string" ? body.client_secret : null,
  };
}

export async function startOAuthServer(opts: { googleUser?: string; microsoftUser?: string } = {}): Promise<OAuthTestServer> {
  const mock = new OAuth2Server();
  await mock.issuer.keys.generate("RS256");
  const service = mock.service;
  const handler = service.requestHandler;

  const clients = {
    google: { id: "google-platform-client.apps.test", secret: `gsecret-${randomUUID()}` },
    microsoft: { id: randomUUID(), secret: `msecret-${randomUUID()}` },
  };
  const registered = new Map<string, string | null>([
    [clients.google.id, clients.google.secret],
    [clients.microsoft.id, clients.microsoft.secret],
  ]);
  const defaultUser: Record<Provider, string> = {
    google: opts.googleUser ?? "alice@gmail.test",
    microsoft: opts.microsoftUser ?? "bob@outlook.test",
  };
  const scripts: ScriptedAuthorization[] = [];
  const codes = new Map<string, PendingCode>();
  const grants = new Map<string, Grant>();
  const byRefresh = new Map<string, Grant>();
  const retiredRefresh = new Set<string>();
  let accessTtl = 3600;
  let tokenMode: "up" | "down" | "error" = "up";
  let tokenDelayMs = 0;
  const issued: string[] = [];

  const tokenRequests: TokenRequestRecord[] = [];
  const introspections: IntrospectionRecord[] = [];
  const revocations: { token: string; found: boolean }[] = [];
  const authorizeRequests: URL[] = [];

  // Issue 18: organisation grants.
  const appConsents = new Map<string, { tenant: string; roles: string[] }>();
  type ServiceAccount = { clientEmail: string; clientId: string; publicKey: KeyObject; delegation: Set<string> | null };
  const serviceAccounts = new Map<string, ServiceAccount>();
  const workspaceUsers = new Set<string>();
  const jwtAssertions: { header: Record<string, unknown>; claims: JWTPayload }[] = [];

  /** The grant a token request is about, looked up before the token is signed. */
  const grantFor = (req: ProviderRequest): { email: string; grantId: string | null; scope: string } | null => {
    const body = req.body ?? {};
    if (body.grant_type === "authorization_code" && typeof body.code === "string") {
      const code = codes.get(body.code);
      return code ? { email: code.email, grantId: null, scope: code.scope } : null;
    }
    if (body.grant_type === "refresh_token" && typeof body.refresh_token === "string") {
      const grant = byRefresh.get(body.refresh_token);
      return grant ? { email: grant.email, grantId: grant.id, scope: grant.scope } : null;
    }
    return null;
  };

  // Identity and lifetime go into both JWTs (access token: has `scope`; id_token: has `aud`).
  service.on("beforeTokenSigning", (token: MutableToken, req: ProviderRequest) => {
    if (req.body?.grant_type === "client_credentials") {
      // An app-only token as Entra shapes it: the app's identity and the consented roles, no user.
      const clientId = clientCredentials(req).id ?? "";
      const consent = appConsents.get(clientId);
      const p = token.payload;
      p.aud = "https://graph.microsoft.com";
      p.sub = `app-${clientId}`;
      p.appid = clientId;
      p.azp = clientId;
      p.idtyp = "app";
      p.tid = req.oauthTenant ?? "";
      p.roles = consent?.roles ?? [];
      p.exp = p.iat + accessTtl;
      p.jti = randomUUID();
      delete p.scope;
      return;
    }
    const who = grantFor(req);
    if (!who) return;
    const p = token.payload;
    p.sub = `user-${Buffer.from(who.email).toString("hex").slice(0, 24)}`;
    p.email = who.email;
    p.email_verified = true;
    if (req.oauthProvider === "microsoft") {
      p.preferred_username = who.email;
      p.tid = req.oauthTenant ?? "common";
    }
    if ("scope" in p) {
      p.scope = who.scope;
      p.exp = p.iat + accessTtl;
      p.jti = randomUUID();
    }
  });

  // Client authentication, single-use codes, refresh token tracking and rotation.
  service.on("beforeResponse", (response: MutableResponse, req: ProviderRequest) => {
    const body = req.body ?? {};
    const provider = req.oauthProvider ?? "google";
    const record = (outcome: string, clientId: string | null): void => {
      tokenRequests.push({
        provider,
        grantType: String(body.grant_type),
        clientId,
        tenant: req.oauthTenant ?? null,
        scope: typeof body.scope === "string" ? body.scope : null,
        outcome,
        at: Date.now(),
      });
    };
    const fail = (status: number, error: string, clientId: string | null, description?: string): void => {
      response.statusCode = status;
      response.body = { error, error_description: description ?? `test server: ${error}` };
      record(error, clientId);
    };
    const creds = clientCredentials(req);
    if (!creds.id || !registered.has(creds.id)) return fail(401, "invalid_client", creds.id);
    const expectedSecret = registered.get(creds.id) ?? null;
    if (expectedSecret !== null && creds.secret !== expectedSecret) {
      // Entra's documented answer to a wrong or expired secret.
      const aad = provider === "microsoft" ? "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID." : undefined;
      return fail(401, "invalid_client", creds.id, aad);
    }
    const out = response.body === "" ? {} : response.body;
    response.body = out;
    const remember = (): void => {
      for (const key of ["access_token", "refresh_token", "id_token"]) {
        const value = out[key];
        if (typeof value === "string") issued.push(value);
      }
    };

    if (body.grant_type === "authorization_code") {
      const code = typeof body.code === "string" ? codes.get(body.code) : undefined;
      if (!code || code.used || code.clientId !== creds.id || code.redirectUri !== body.redirect_uri || code.provider !== provider) {
        return fail(400, "invalid_grant", creds.id);
      }
      if (typeof body.code_verifier !== "string") return fail(400, "invalid_grant", creds.id);
      code.used = true;
      const grant: Grant = {
        id: randomUUID(),
        provider,
        email: code.email,
        clientId: creds.id,
        scope: code.scope,
        tenant: code.tenant,
        revoked: false,
        refreshToken: typeof out.refresh_token === "string" ? out.refresh_token : null,
        refreshCount: 0,
      };
      grants.set(grant.id, grant);
      if (grant.refreshToken) byRefresh.set(grant.refreshToken, grant);
      out.scope = code.scope;
      out.expires_in = accessTtl;
      remember();
      record("ok", creds.id);
      return;
    }
    if (body.grant_type === "refresh_token") {
      const presented = typeof body.refresh_token === "string" ? body.refresh_token : "";
      const grant = byRefresh.get(presented);
      if (!grant || grant.revoked || grant.refreshToken !== presented || grant.clientId !== creds.id || retiredRefresh.has(presented)) {
        return fail(400, "invalid_grant", creds.id);
      }
      // Rotation: the presented token is retired, the new one is the only valid one.
      retiredRefresh.add(presented);
      byRefresh.delete(presented);
      const next = typeof out.refresh_token === "string" ? out.refresh_token : randomUUID();
      out.refresh_token = next;
      grant.refreshToken = next;
      grant.refreshCount += 1;
      byRefresh.set(next, grant);
      out.scope = grant.scope;
      out.expires_in = accessTtl;
      delete out.id_token;
      remember();
      record("ok", creds.id);
      return;
    }
    if (body.grant_type === "client_credentials" && provider === "microsoft") {
      const scope = typeof body.scope === "string" ? body.scope : "";
      if (!/^\S+\/\.default$/.test(scope)) {
        return fail(400, "invalid_scope", creds.id, `AADSTS1002012: The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`);
      }
      const consent = appConsents.get(creds.id);
      if (!consent || !same(consent.tenant, req.oauthTenant ?? "")) {
        return fail(400, "unauthorized_client", creds.id, `AADSTS700016: Application with identifier '${creds.id}' was not found in the directory '${req.oauthTenant ?? ""}'.`);
      }
      delete out.scope;
      out.expires_in = accessTtl;
      out.ext_expires_in = accessTtl;
      remember();
      record("ok", creds.id);
      return;
    }
    return fail(400, "unsupported_grant_type", creds.id);
  });

  /** Google's JWT bearer grant (domain-wide delegation), with Google's documented error bodies. */
  const handleJwtBearer = async (form: URLSearchParams, res: ServerResponse): Promise<void> => {
    const assertion = form.get("assertion") ?? "";
    const reply = (status: number, body: Record<string, unknown>, clientId: string | null, scope: string | null): void => {
      tokenRequests.push({ provider: "google", grantType: "urn:ietf:params:oauth:grant-type:jwt-bearer", clientId, tenant: null, scope, outcome: typeof body.error === "string" ? body.error : "ok", at: Date.now() });
      sendJson(res, status, body);
    };
    let claims: JWTPayload;
    try {
      claims = decodeJwt(assertion);
      const [h] = assertion.split(".");
      jwtAssertions.push({ header: JSON.parse(Buffer.from(h ?? "", "base64url").toString("utf8")) as Record<string, unknown>, claims });
    } catch {
      return reply(400, { error: "invalid_grant", error_description: "Invalid JWT: Malformed." }, null, null);
    }
    const scope = typeof claims.scope === "string" ? claims.scope : "";
    const sa = typeof claims.iss === "string" ? serviceAccounts.get(claims.iss) : undefined;
    if (!sa) return reply(400, { error: "invalid_grant", error_description: "Invalid grant: account not found" }, null, scope);
    try {
      await jwtVerify(assertion, sa.publicKey, { audience: [`${base}/token`, "https://oauth2.googleapis.com/token"], algorithms: ["RS256"] });
    } catch {
      return reply(400, { error: "invalid_grant", error_description: "Invalid JWT Signature." }, sa.clientId, scope);
    }
    if (typeof claims.iat !== "number" || typeof claims.exp !== "number" || claims.exp - claims.iat > 3600) {
      return reply(400, { error: "invalid_grant", error_description: "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim." }, sa.clientId, scope);
    }
    const scopes = scope.split(/\s+/).filter(Boolean);
    const subject = typeof claims.sub === "string" ? claims.sub : "";
    if (!subject || !sa.delegation || scopes.length === 0 || scopes.some((x) => !sa.delegation?.has(x))) {
      return reply(401, { error: "unauthorized_client", error_description: "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested." }, sa.clientId, scope);
    }
    if (!workspaceUsers.has(subject.toLowerCase())) return reply(400, { error: "invalid_grant", error_description: "Invalid email or User ID" }, sa.clientId, scope);
    const accessToken = await mock.issuer.buildToken({
      expiresIn: accessTtl,
      scopesOrTransform: (_h, p) => {
        p.sub = `user-${Buffer.from(subject).toString("hex").slice(0, 24)}`;
        p.email = subject;
        p.scope = scope;
        p.azp = sa.clientId;
        p.delegated = true;
        p.jti = randomUUID();
      },
    });
    issued.push(accessToken);
    reply(200, { access_token: accessToken, expires_in: accessTtl, token_type: "Bearer" }, sa.clientId, scope);
  };

  // The package approves every authorization; a scripted one signs in as someone else or is denied.
  service.on("beforeAuthorizeRedirect", (redirect: MutableRedirectUri, req: ProviderRequest) => {
    const provider = req.oauthProvider ?? "google";
    const index = scripts.findIndex((s) => s.provider === undefined || s.provider === provider);
    const script = index >= 0 ? scripts.splice(index, 1)[0] : undefined;
    const url = redirect.url;
    const code = url.searchParams.get("code");
    if (script?.error) {
      if (code) codes.delete(code);
      url.searchParams.delete("code");
      url.searchParams.set("error", script.error);
      url.searchParams.set("error_description", "The user did not grant access.");
      return;
    }
    if (!code) return;
    const q = new URL(req.url ?? "/", "http://x").searchParams;
    codes.set(code, {
      provider,
      email: script?.email ?? defaultUser[provider],
      clientId: q.get("client_id") ?? "",
      redirectUri: q.get("redirect_uri") ?? "",
      scope: q.get("scope") ?? "",
      tenant: req.oauthTenant ?? null,
      used: false,
    });
  });

  const jwks = (): ReturnType<typeof createLocalJWKSet> =>
    createLocalJWKSet({ keys: mock.issuer.keys.toJSON() } as JSONWebKeySet);

  /** A valid, unexpired access token of a live grant → its user; anything else → null. */
  const checkAccessToken = async (token: string): Promise<{ email: string; exp: number; scope: string } | null> => {
    try {
      const { payload } = await jwtVerify(token, jwks(), { issuer: mock.issuer.url });
      if (typeof payload.email !== "string" || typeof payload.scope !== "string") return null;
      const live = [...grants.values()].some((g) => g.email === payload.email && !g.revoked);
      return live ? { email: payload.email, exp: payload.exp ?? 0, scope: payload.scope } : null;
    } catch {
      return null;
    }
  };

  const server: Server = createServer((rawReq, res) => {
    const req = rawReq as ProviderRequest;
    void (async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const ms = MS_PATH.exec(url.pathname);
      if (ms) {
        req.oauthProvider = "microsoft";
        req.oauthTenant = ms[1] ?? null;
        req.url = `/${ms[2]}${url.search}`;
      } else if (url.pathname === "/authorize" || url.pathname === "/token") {
        req.oauthProvider = "google";
      }
      const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;

      if (path === "/authorize") {
        authorizeRequests.push(new URL(url.toString().replace("http://127.0.0.1", base)));
        const clientId = url.searchParams.get("client_id") ?? "";
        // A real server shows an error page for an unknown app; it never redirects.
        if (!registered.has(clientId)) return sendJson(res, 400, { error: "invalid_client" });
      }
      if (path === "/token") {
        if (tokenMode === "down") {
          req.socket.destroy();
          return;
        }
        if (tokenMode === "error") return sendJson(res, 503, { error: "temporarily_unavailable" });
        if (tokenDelayMs > 0) await new Promise((r) => setTimeout(r, tokenDelayMs));
        if (req.oauthProvider === "google" && req.method === "POST") {
          // Read here to see the grant type; the package's body parser skips a consumed body and uses req.body.
          const form = new URLSearchParams(await readBody(req));
          if (form.get("grant_type") === "urn:ietf:params:oauth:grant-type:jwt-bearer") return handleJwtBearer(form, res);
          req.body = Object.fromEntries(form);
        }
      }
      if (path === "/introspect" && req.method === "POST") {
        // RFC 7662 as Dovecot speaks it: form-encoded `token`, answer {active, username}.
        const form = new URLSearchParams(await readBody(req));
        const token = form.get("token") ?? "";
        const who = await checkAccessToken(token);
        introspections.push({ token, active: !!who, username: who?.email ?? null, at: Date.now() });
        return sendJson(res, 200, who ? { active: true, username: who.email, exp: who.exp, scope: who.scope } : { active: false });
      }
      if (path === "/revoke" && req.method === "POST") {
        // RFC 7009: revoking a refresh token (or an access token) ends the grant; always 200.
        const form = new URLSearchParams(await readBody(req));
        const token = form.get("token") ?? "";
        let grant = byRefresh.get(token);
        if (!grant) {
          const claims = (() => {
            try {
              return decodeJwt(token);
            } catch {
              return null;
            }
          })();
          if (claims && typeof claims.email === "string") {
            grant = [...grants.values()].find((g) => g.email === claims.email && !g.revoked);
          }
        }
        if (grant) grant.revoked = true;
        revocations.push({ token, found: !!grant });
        res.writeHead(200).end();
        return;
      }
      if (path === "/userinfo") {
        const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
        const who = m?.[1] ? await checkAccessToken(m[1]) : null;
        if (!who) return sendJson(res, 401, { error: "invalid_token" });
        return sendJson(res, 200, { sub: `user-${Buffer.from(who.email).toString("hex").slice(0, 24)}`, email: who.email, email_verified: true });
      }
      // Everything else is the package's: its express app parses the token request, and the hooks
      // above see the parsed body on this same request object.
      handler(req, res);
    })().catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: "server_error", error_description: String(err) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  mock.issuer.url = base;

  return {
    url: base,
    introspectionUrl: `${base}/introspect`,
    clients,
    env: () => ({
      GOOGLE_OAUTH_CLIENT_ID: clients.google.id,
      GOOGLE_OAUTH_CLIENT_SECRET: clients.google.secret,
      GOOGLE_OAUTH_AUTHORIZATION_URL: `${base}/authorize`,
      GOOGLE_OAUTH_TOKEN_URL: `${base}/token`,
      GOOGLE_OAUTH_REVOCATION_URL: `${base}/revoke`,
      GOOGLE_OAUTH_USERINFO_URL: `${base}/userinfo`,
      MICROSOFT_OAUTH_CLIENT_ID: clients.microsoft.id,
      MICROSOFT_OAUTH_CLIENT_SECRET: clients.microsoft.secret,
      MICROSOFT_OAUTH_AUTHORITY: base,
      MICROSOFT_OAUTH_TENANT_ID: "common",
      MICROSOFT_OAUTH_USERINFO_URL: `${base}/userinfo`,
    }),
    addClient: (id, secret) => void registered.set(id, secret),
    setDefaultUser: (provider, email) => {
      defaultUser[provider] = email;
    },
    scriptNextAuthorization: (script) => void scripts.push(script),
    setAccessTokenTtl: (seconds) => {
      accessTtl = seconds;
    },
    setTokenEndpoint: (mode) => {
      tokenMode = mode;
    },
    setTokenDelay: (ms) => {
      tokenDelayMs = ms;
    },
    issuedSecrets: () => [...issued, ...[...registered.values()].filter((v): v is string => !!v)],
    revokeGrant: (email) => {
      for (const g of grants.values()) if (same(g.email, email)) g.revoked = true;
    },
    currentRefreshToken: (email) => {
      const mine = [...grants.values()].filter((g) => same(g.email, email) && !g.revoked);
      return mine.at(-1)?.refreshToken ?? null;
    },
    grantsOf: (email) => [...grants.values()].filter((g) => same(g.email, email)),
    consentApp: ({ clientId, secret, tenant, roles }) => {
      registered.set(clientId, secret);
      appConsents.set(clientId, { tenant, roles: [...roles] });
    },
    setAppRoles: (clientId, roles) => {
      const consent = appConsents.get(clientId);
      if (roles === null) appConsents.delete(clientId);
      else if (consent) consent.roles = [...roles];
    },
    addServiceAccount: (o = {}) => {
      const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const clientId = String(100_000_000_000_000_000_000n + BigInt(serviceAccounts.size + 1));
      const clientEmail = o.email ?? `mail-reader-${serviceAccounts.size + 1}@org-project.iam.gserviceaccount.com`;
      serviceAccounts.set(clientEmail, { clientEmail, clientId, publicKey, delegation: null });
      const key = {
        type: "service_account",
        project_id: "org-project",
        private_key_id: randomUUID().replace(/-/g, ""),
        private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        client_email: clientEmail,
        client_id: clientId,
        auth_uri: "https://accounts.google.com/o/oauth2/auth",
        token_uri: "https://oauth2.googleapis.com/token",
      };
      issued.push(key.private_key);
      return { key, clientId, clientEmail };
    },
    setDomainWideDelegation: (clientId, scopes) => {
      for (const sa of serviceAccounts.values()) if (sa.clientId === clientId) sa.delegation = scopes ? new Set(scopes) : null;
    },
    addWorkspaceUser: (email) => void workspaceUsers.add(email.toLowerCase()),
    removeWorkspaceUser: (email) => void workspaceUsers.delete(email.toLowerCase()),
    resolveToken: async (token) => {
      try {
        const { payload } = await jwtVerify(token, jwks(), { issuer: mock.issuer.url });
        if (payload.idtyp === "app" && typeof payload.appid === "string") {
          return { kind: "app", appId: payload.appid, tenant: String(payload.tid ?? ""), roles: Array.isArray(payload.roles) ? payload.roles.map(String) : [] };
        }
        if (payload.delegated === true && typeof payload.email === "string") return { kind: "user", email: payload.email, scope: String(payload.scope ?? "") };
      } catch {
        return null;
      }
      const who = await checkAccessToken(token);
      return who ? { kind: "user", email: who.email, scope: who.scope } : null;
    },
    jwtAssertions,
    tokenRequests,
    introspections,
    revocations,
    authorizeRequests,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
