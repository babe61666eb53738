"use client";

import { useCallback, useEffect, useState } from "react";
import type { Locale } from "@/lib/i18n";
import { apiFetch, ApiError } from "./email-api";
import { describeApiError } from "./error-text";
import { I18nProvider, useI18n } from "./i18n-provider";
import { LanguageSwitch } from "./language-switch";

type EventType = "message.received" | "mailbox.status_changed";
type Endpoint = { id: string; url: string; eventTypes: EventType[]; inlineRawMaxBytes: number; enabled: boolean; secretRotatedAt: string };
type Delivery = {
  id: string;
  eventId: string;
  eventType: EventType;
  status: "pending" | "succeeded" | "failed";
  attempts: number;
  lastStatusCode: number | null;
  lastResponse: string | null;
  nextAttemptAt: string | null;
  createdAt: string;
};

const webhooksApi = {
  list: () => apiFetch<{ endpoints: Endpoint[] }>("/api/tenant/webhooks"),
  create: (body: unknown) => apiFetch<{ endpoint: Endpoint; secret: string }>("/api/tenant/webhooks", { method: "POST", body }),
  update: (id: string, body: unknown) => apiFetch<{ endpoint: Endpoint }>(`/api/tenant/webhooks/${id}`, { method: "PATCH", body }),
  remove: (id: string) => apiFetch<void>(`/api/tenant/webhooks/${id}`, { method: "DELETE" }),
  rotate: (id: string) => apiFetch<{ secret: string }>(`/api/tenant/webhooks/${id}/rotate-secret`, { method: "POST" }),
  deliveries: () => apiFetch<{ deliveries: Delivery[] }>("/api/tenant/webhooks/deliveries?limit=100"),
  replay: (id: string) => apiFetch<{ status: string }>(`/api/tenant/webhooks/deliveries/${id}/replay`, { method: "POST" }),
};

export type WebhooksPanelProps = { locale: Locale; canEdit: boolean };

/** /settings/webhooks: endpoints (secret shown once), and the delivery log with replay. */
export function WebhooksPanel({ locale, canEdit }: WebhooksPanelProps) {
  return (
    <I18nProvider initialLocale={locale}>
      <WebhooksPage canEdit={canEdit} />
    </I18nProvider>
  );
}

function WebhooksPage({ canEdit }: { canEdit: boolean }) {
  const { t, locale } = useI18n();
  const w = t.webhooks;
  const [endpoints, setEndpoints] = useState<Endpoint[]>([]);
  const [deliveries, setDeliveries] = useState<Delivery[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<EventType[]>(["message.received", "mailbox.status_changed"]);
  const [inlineRaw, setInlineRaw] = useState(0);
  const [fieldError, setFieldError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const [list, log] = await Promise.all([webhooksApi.list(), webhooksApi.deliveries()]);
      setEndpoints(list.endpoints);
      setDeliveries(log.deliveries);
      setError(null);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 403 ? w.adminOnly : w.loadError);
    }
  }, [w.adminOnly, w.loadError]);

  useEffect(() => {
    void load();
  }, [load]);

  const run = async (action: () => Promise<void>): Promise<void> => {
    try {
      await action();
      await load();
    } catch (err) {
      setError(describeApiError(t, locale, err));
    }
  };

  const add = async (): Promise<void> => {
    setFieldError(null);
    try {
      const created = await webhooksApi.create({ url, event_types: events, inline_raw_max_bytes: inlineRaw });
      setSecret(created.secret);
      setUrl("");
      await load();
    } catch (err) {
      setFieldError(err instanceof ApiError && err.fields.url ? err.fields.url : describeApiError(t, locale, err));
    }
  };

  const toggleEvent = (type: EventType): void =>
    setEvents((current) => (current.includes(type) ? current.filter((e) => e !== type) : [...current, type]));
  const eventLabel = (type: EventType): string => (type === "message.received" ? w.eventMessage : w.eventStatus);

  return (
    <div className="page">
      <header className="page-header">
        <div className="page-heading">
          <h1>{w.title}</h1>
          <p className="muted">
            <a href="/settings/email">{w.back}</a>
          </p>
        </div>
        <div className="page-tools">
          <LanguageSwitch />
        </div>
      </header>
      <main className="page-main">
        <p className="page-intro">{w.intro}</p>
        {!canEdit ? <p className="notice notice-info">{w.adminOnly}</p> : null}
        {error ? (
          <div className="alert alert-error" role="alert">
            {error}
          </div>
        ) : null}
        {secret ? (
          <div className="notice notice-info" role="status">
            <p>{w.secretOnce}</p>
            <code data-testid="webhook-secret">{secret}</code>{" "}
            <button type="button" className="button button-small" onClick={() => void navigator.clipboard?.writeText(secret)}>
              {w.copy}
            </button>
          </div>
        ) : null}

        <section className="card">
          <h2>{w.endpoints}</h2>
          {endpoints.length === 0 ? <p className="muted">{w.none}</p> : null}
          <ul className="webhook-list">
            {endpoints.map((e) => (
              <li key={e.id}>
                <code>{e.url}</code> · {e.eventTypes.map(eventLabel).join(", ")} · {e.enabled ? w.enabled : w.disabled}
                {canEdit ? (
                  <span className="webhook-actions">
                    {" "}
                    <button type="button" className="button button-small" onClick={() => void run(async () => void (await webhooksApi.update(e.id, { enabled: !e.enabled })))}>
                      {e.enabled ? w.disable : w.enable}
                    </button>{" "}
                    <button type="button" className="button button-small" onClick={() => void run(async () => setSecret((await webhooksApi.rotate(e.id)).secret))}>
                      {w.rotate}
                    </button>{" "}
                    <button type="button" className="button button-small button-ghost" onClick={() => void run(() => webhooksApi.remove(e.id))}>
                      {w.remove}
                    </button>
                  </span>
                ) : null}
              </li>
            ))}
          </ul>
          {canEdit ? (
            <form
              className="webhook-form"
              onSubmit={(ev) => {
                ev.preventDefault();
                void add();
              }}
            >
              <label>
                {w.url}
                <input type="url" required value={url} onChange={(ev) => setUrl(ev.target.value)} placeholder="https://" />
              </label>
              {fieldError ? <p className="field-error">{fieldError}</p> : null}
              <fieldset>
                <legend>{w.events}</legend>
                {(["message.received", "mailbox.status_changed"] as const).map((type) => (
                  <label key={type}>
                    <input type="checkbox" checked={events.includes(type)} onChange={() => toggleEvent(type)} /> {eventLabel(type)}
                  </label>
                ))}
              </fieldset>
              <label>
                {w.inlineRaw}
                <input type="number" min={0} max={5242880} value={inlineRaw} onChange={(ev) => setInlineRaw(Number(ev.target.value) || 0)} />
              </label>
              <button type="submit" className="button" disabled={events.length === 0}>
                {w.add}
              </button>
            </form>
          ) : null}
        </section>

        <section className="card">
          <h2>
            {w.deliveries}{" "}
            <button type="button" className="button button-small button-ghost" onClick={() => void load()}>
              {w.refresh}
            </button>
          </h2>
          {deliveries.length === 0 ? (
            <p className="muted">{w.noDeliveries}</p>
          ) : (
            <table className="webhook-deliveries">
              <thead>
                <tr>
                  <th>{w.event}</th>
                  <th>{t.webhooks.status.succeeded}/{t.webhooks.status.failed}</th>
                  <th>{w.attempts}</th>
                  <th>{w.lastResponse}</th>
                  <th>{w.nextAttempt}</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {deliveries.map((d) => (
                  <tr key={d.id}>
                    <td>
                      {eventLabel(d.eventType)}
                      <br />
                      <code className="muted">{d.eventId}</code>
                    </td>
                    <td>{w.status[d.status]}</td>
                    <td>{d.attempts}</td>
                    <td>
                      {d.lastStatusCode ?? "-"} <span className="muted">{d.lastResponse?.slice(0, 120)}</span>
                    </td>
                    <td>{d.nextAttemptAt ? new Date(d.nextAttemptAt).toLocaleString(locale) : "-"}</td>
                    <td>
                      {canEdit && d.status !== "pending" ? (
                        <button type="button" className="button button-small" onClick={() => void run(async () => void (await webhooksApi.replay(d.id)))}>
                          {w.replay}
                        </button>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </main>
    </div>
  );
}
