/**
 * The browser side of the HTTP contract in /work/shared/API.md: the server's response types
 * (lib/api/types.ts) and one fetch helper. Errors become an ApiError with the server's code, so
 * components translate by code and never show a raw error object.
 */

import type {
  AfterIngest,
  EmailType,
  HealthResponse,
  MailboxConfig,
  MessageDetail,
  MessagePage,
  MessageStatus,
  SettingsResponse,
  StartMode,
  StatsResponse,
  TestResult,
} from "@/lib/api/types";

// The response types are the server's own (lib/api/types.ts), never re-declared here.
export type {
  AfterIngest,
  Attachment,
  EmailType,
  HealthResponse,
  HourlyPoint,
  MailboxConfig,
  MailboxHealth,
  MailboxKind,
  MailboxStats,
  MailboxStatus,
  MessageDetail,
  MessageItem,
  MessagePage,
  MessageStatus,
  OAuthInfo,
  Protocol,
  Provider,
  SettingsResponse,
  StartMode,
  StatsResponse,
  TestResult,
} from "@/lib/api/types";

export const EMAIL_TYPES: readonly EmailType[] = ["booking", "stopsale"];

/** Where a new mailbox starts and what happens to a message once saved: both settings forms offer these, in this order. */
export const START_MODES: readonly StartMode[] = ["unread", "since", "new_only"];
export const AFTER_INGEST_MODES: readonly AfterIngest[] = ["mark_read", "none", "move"];

/** A failed request: HTTP status (0 = no answer), the server's code and message, field messages. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** What an error body may look like on the wire (ErrorBody of lib/api/types.ts, read defensively). */
type WireErrorBody = { error?: { code?: unknown; message?: unknown; details?: { fields?: unknown } } };

export async function apiFetch<T>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  const method = init.method ?? "GET";
  const headers: Record<string, string> = { accept: "application/json" };
  let body: string | undefined;
  if (init.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body, credentials: "same-origin", cache: "no-store", signal: init.signal });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, "network", "network error");
  }
  if (res.status === 401) {
    // The session ended (logged out elsewhere, expired): the login page brings the user back.
    window.location.assign("/login");
    throw new ApiError(401, "unauthorized", "session ended");
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = undefined;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  if (!res.ok) {
    const error = (json as WireErrorBody | undefined)?.error;
    const fields: Record<string, string> = {};
    const rawFields = error?.details?.fields;
    if (rawFields && typeof rawFields === "object") {
      for (const [k, v] of Object.entries(rawFields)) if (typeof v === "string") fields[k] = v;
    }
    throw new ApiError(
      res.status,
      typeof error?.code === "string" ? error.code : `http_${res.status}`,
      typeof error?.message === "string" ? error.message : "",
      fields,
    );
  }
  return json as T;
}

export const api = {
  settings: () => apiFetch<SettingsResponse>("/api/tenant/email/settings"),
  saveSettings: (type: EmailType, body: unknown) =>
    apiFetch<MailboxConfig>(`/api/tenant/email/settings/${type}`, { method: "PUT", body }),
  removeSettings: (type: EmailType) => apiFetch<void>(`/api/tenant/email/settings/${type}`, { method: "DELETE" }),
  testSettings: (type: EmailType, body: unknown) =>
    apiFetch<TestResult>(`/api/tenant/email/settings/${type}/test`, { method: "POST", body }),
  health: () => apiFetch<HealthResponse>("/api/tenant/email/health"),
  stats: () => apiFetch<StatsResponse>("/api/tenant/email/stats"),
  messages: (params: { email_type: EmailType; status?: MessageStatus; limit?: number; cursor?: string }) => {
    const q = new URLSearchParams({ email_type: params.email_type });
    if (params.status) q.set("status", params.status);
    if (params.limit) q.set("limit", String(params.limit));
    if (params.cursor) q.set("cursor", params.cursor);
    return apiFetch<MessagePage>(`/api/tenant/email/messages?${q.toString()}`);
  },
  message: (id: string) => apiFetch<MessageDetail>(`/api/tenant/email/messages/${encodeURIComponent(id)}`),
  rawUrl: (id: string) => `/api/tenant/email/messages/${encodeURIComponent(id)}/raw`,
  retry: (id: string) =>
    apiFetch<unknown>(`/api/tenant/email/messages/${encodeURIComponent(id)}/retry`, { method: "POST", body: {} }),
  logout: () => apiFetch<void>("/api/auth/logout", { method: "POST", body: {} }),
};
