import { randomBytes } from "node:crypto";

/** A logged-in admin talking to the running app (TEST_APP_URL) the way the settings page does. */
export type AppClient = {
  baseUrl: string;
  tenantId: string;
  email: string;
  password: string;
  request: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<Response>;
  json: <T = unknown>(method: string, path: string, body?: unknown) => Promise<{ status: number; body: T }>;
};

export function getAppUrl(): string {
  const url = process.env.TEST_APP_URL;
  if (!url) throw new Error("TEST_APP_URL is not set: run the suites with `npm test` (scripts/run-tests.ts).");
  return url.replace(/\/+$/, "");
}

/** Creates a tenant with an admin through the lib functions, then logs in over HTTP. */
export async function createLoggedInAdmin(opts: { tenantName?: string; role?: "admin" | "viewer" } = {}): Promise<AppClient> {
  const { createTenantWithAdmin } = await import("@/lib/db/queries/tenants");
  const { createUser } = await import("@/lib/db/queries/users");
  const { hashPassword } = await import("@/lib/auth/password");
  const baseUrl = getAppUrl();
  const suffix = randomBytes(4).toString("hex");
  const password = `pw-${randomBytes(8).toString("hex")}`;
  const adminEmail = `admin-${suffix}@hotel.test`;
  const { tenant } = await createTenantWithAdmin({
    name: opts.tenantName ?? `Hotel ${suffix}`,
    email: adminEmail,
    passwordHash: await hashPassword(password),
  });
  let email = adminEmail;
  if (opts.role === "viewer") {
    email = `viewer-${suffix}@hotel.test`;
    await createUser({ tenantId: tenant.id, email, passwordHash: await hashPassword(password), role: "viewer" });
  }
  return logInOverHttp({ baseUrl, tenantId: tenant.id, email, password });
}

/** Another user of an existing tenant (e.g. a viewer beside the admin), logged in over HTTP. */
export async function createLoggedInUser({ tenantId, role }: { tenantId: string; role: "admin" | "viewer" }): Promise<AppClient> {
  const { createUser } = await import("@/lib/db/queries/users");
  const { hashPassword } = await import("@/lib/auth/password");
  const suffix = randomBytes(4).toString("hex");
  const password = `pw-${randomBytes(8).toString("hex")}`;
  const email = `${role}-${suffix}@hotel.test`;
  await createUser({ tenantId, email, passwordHash: await hashPassword(password), role });
  return logInOverHttp({ baseUrl: getAppUrl(), tenantId, email, password });
}

async function logInOverHttp({ baseUrl, tenantId, email, password }: { baseUrl: string; tenantId: string; email: string; password: string }): Promise<AppClient> {
  const suffix = randomBytes(4).toString("hex");
  const login = await fetch(`${baseUrl}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: baseUrl, "x-forwarded-for": `10.9.${suffix.length}.${Math.floor(Math.random() * 250)}` },
    body: JSON.stringify({ email, password }),
  });
  if (!login.ok) throw new Error(`login failed: ${login.status} ${await login.text()}`);
  const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const request = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        cookie,
        origin: baseUrl,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      redirect: "manual",
    });
  return {
    baseUrl,
    tenantId,
    email,
    password,
    request,
    json: async <T>(method: string, path: string, body?: unknown) => {
      const res = await request(method, path, body);
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
    },
  };
}
