/**
 * The browser side of the HTTP contract in /work/shared/API.md: response types and one fetch
 * helper. Errors become an ApiError with the server's code, so components translate by code and
 * never show a raw error object.
 */

export type EmailType = "booking" | "stopsale";
export const EMAIL_TYPES: readonly EmailType[] = ["booking", "stopsale"];

export type Provider = "imap" | "google" | "microsoft" | "forwarding";
export type Protocol = "imap" | "pop3";

export type OAuthInfo = {
  provider: string;
  connected_email: string | null;
  is_connected: boolean;
  scopes: string[];
  token_expiry: string | null;
};

export type MailboxConfig = {
  email_type: EmailType;
  provider: Provider;
  access: "imap" | "pop3" | "gmail_api" | "graph_api" | "forwarding";
  protocol: Protocol;
  host: string | null;
  port: number | null;
  address: string | null;
  username: string | null;
  use_ssl: boolean;
  /** Absent from servers older than TLS modes: derive from use_ssl. */
  tls_mode?: "implicit" | "starttls" | "none";
  allow_invalid_certificate: boolean;
  auth_method: "password" | "app_password" | "oauth2";
  has_password: boolean;
  use_idle: boolean;
  folder: string | null;
  enabled: boolean;
  poll_interval_seconds?: number;
  delete_after_ingest?: boolean;
  start_mode?: "unread" | "since" | "new_only";
  start_since?: string | null;
  started?: boolean;
  after_ingest?: "mark_read" | "none" | "move";
  move_to_folder?: string | null;
  oauth: OAuthInfo | null;
  last_success_at: string | null;
  last_error: string | null;
  error_count_24h: number;
};

export type SettingsResponse = Record<EmailType, MailboxConfig | null>;

export type MailboxStatus = "connected" | "connecting" | "disconnected" | "error" | "needs_reauth" | "paused" | "not_configured";

export type HourlyPoint = { hour: string; processed: number; failed: number };

export type MailboxHealth = {
  status: MailboxStatus;
  last_sync: string | null;
  last_error: string | null;
  /** Not in the contract's minimum; used when the server sends it, else guessed from the text. */
  last_error_code?: string | null;
  error_count: number;
  backlog?: number;
  /** A first import still running (issue 13): imported so far of its total. */
  first_import?: { imported: number; total: number } | null;
  hourly?: HourlyPoint[];
};

export type HealthResponse = Record<EmailType, MailboxHealth>;

export type MailboxStats = {
  processed_24h: number;
  failed_24h: number;
  avg_processing_time_ms: number;
  queue_size: number;
};

export type StatsResponse = MailboxStats & { by_type: Record<EmailType, MailboxStats> };

export type MessageStatus = "queued" | "processing" | "processed" | "failed" | "too_large";

export type Attachment = { filename: string | null; content_type: string; size: number };

export type MessageItem = {
  id: string;
  email_type: EmailType;
  message_id: string | null;
  from: string | null;
  to: string | string[] | null;
  subject: string | null;
  sent_at: string | null;
  received_at: string;
  status: MessageStatus;
  error: string | null;
  processing_ms: number | null;
  size: number | null;
  attachments: Attachment[];
  /** Parse defects, each naming its defect ("mbox_from_line: ..."): shown, not failed. */
  warnings: string[];
  /** Forwarding mailboxes only (issue 16). */
  sender_auth?: import("./forwarding-api").SenderAuth | null;
};

export type MessageDetail = MessageItem & { text: string | null; html: string | null };

export type MessagePage = { items: MessageItem[]; next_cursor: string | null };

export type TestResult =
  | { ok: true; folder?: string; exists?: number; unseen?: number; start_counts?: { unread: number; since: number | null; total: number } }
  | { ok: false; error: { code: string; message: string } };

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

type ErrorBody = { error?: { code?: unknown; message?: unknown; details?: { fields?: unknown } } };

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
    const error = (json as ErrorBody | undefined)?.error;
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
