"use client";

import { ArrowLeft, Check, Copy, KeyRound, Pause, Play, Plus, RefreshCw, Send, Trash2 } from "lucide-react";
import { useCallback, useEffect, useState, type ReactElement } from "react";
import { formatDateTime, type Locale } from "@/lib/i18n";
import { apiFetch, ApiError } from "./email-api";
import { describeApiError } from "./error-text";
import { I18nProvider, useI18n } from "./i18n-provider";
import { LanguageSwitch } from "./language-switch";
import { ActionForm } from "./ui/action-form";
import { Alert, AlertTitle } from "./ui/alert";
import { Badge, type BadgeTone } from "./ui/badge";
import { Button } from "./ui/button";
import { Card, PageContainer } from "./ui/card";
import { CheckboxField } from "./ui/checkbox";
import { InputField } from "./ui/form-field";
import { verbatimInput } from "./ui/input";

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

const STATUS_TONE: Record<Delivery["status"], BadgeTone> = { pending: "warning", succeeded: "success", failed: "danger" };

export type WebhooksPanelProps = { locale: Locale; canEdit: boolean };

/** /settings/webhooks: endpoints (secret shown once), and the delivery log with replay. */
export function WebhooksPanel({ locale, canEdit }: WebhooksPanelProps): ReactElement {
  return (
    <I18nProvider initialLocale={locale}>
      <WebhooksPage canEdit={canEdit} />
    </I18nProvider>
  );
}

function WebhooksPage({ canEdit }: { canEdit: boolean }): ReactElement {
  const { t, locale } = useI18n();
  const w = t.webhooks;
  const [endpoints, setEndpoints] = useState<Endpoint[]>([]);
  const [deliveries, setDeliveries] = useState<Delivery[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [secretCopied, setSecretCopied] = useState(false);
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
      setSecretCopied(false);
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
    <PageContainer>
      <header className="mb-4 flex flex-wrap items-start justify-between gap-4">
        <div className="flex flex-col gap-1">
          <a className="inline-flex items-center gap-1 text-sm font-medium text-primary underline-offset-4 hover:underline" href="/settings/email">
            <ArrowLeft aria-hidden="true" className="size-4" />
            {w.back}
          </a>
          <h1 className="text-[22px] sm:text-[26px]">{w.title}</h1>
        </div>
        <LanguageSwitch />
      </header>
      <main className="flex flex-col gap-4">
        <p className="max-w-[720px] text-muted-foreground">{w.intro}</p>
        {!canEdit ? (
          <Alert as="p" tone="notice">
            {w.adminOnly}
          </Alert>
        ) : null}
        {error ? (
          <Alert tone="error" role="alert">
            {error}
          </Alert>
        ) : null}
        {secret ? (
          <Alert tone="warning" role="status" className="gap-2">
            <AlertTitle>{w.secretOnce}</AlertTitle>
            <div className="flex flex-wrap items-center gap-2">
              <code data-testid="webhook-secret" className="min-w-0 rounded-sm border border-warning-border bg-card px-2 py-1 font-mono text-sm break-all text-foreground">
                {secret}
              </code>
              <Button size="sm" onClick={() => void navigator.clipboard?.writeText(secret).then(() => setSecretCopied(true), () => undefined)}>
                {secretCopied ? <Check aria-hidden="true" className="size-4 text-success" /> : <Copy aria-hidden="true" className="size-4" />}
                {secretCopied ? w.secretCopied : w.copy}
              </Button>
            </div>
          </Alert>
        ) : null}

        <Card as="section" className="flex flex-col gap-4 p-4 sm:p-6" aria-labelledby="webhook-endpoints-title">
          <h2 id="webhook-endpoints-title" className="text-lg">
            {w.endpoints}
          </h2>
          {endpoints.length === 0 ? <p className="text-sm text-muted-foreground">{w.none}</p> : null}
          {endpoints.length > 0 ? (
            <ul className="m-0 flex list-none flex-col divide-y divide-border rounded-md border border-border p-0">
              {endpoints.map((e) => (
                <li key={e.id} className="flex flex-wrap items-center justify-between gap-x-4 gap-y-2 px-3 py-3">
                  <div className="flex min-w-0 flex-[1_1_320px] flex-col gap-1">
                    <code className="font-mono text-sm font-medium break-all">{e.url}</code>
                    <span className="flex flex-wrap items-center gap-2 text-caption text-muted-foreground">
                      <Badge size="sm" tone={e.enabled ? "success" : "neutral"}>
                        {e.enabled ? w.enabled : w.disabled}
                      </Badge>
                      {e.eventTypes.map(eventLabel).join(", ")}
                    </span>
                  </div>
                  {canEdit ? (
                    <div className="flex flex-wrap gap-2">
                      <Button size="sm" onClick={() => void run(async () => void (await webhooksApi.update(e.id, { enabled: !e.enabled })))}>
                        {e.enabled ? <Pause aria-hidden="true" className="size-4" /> : <Play aria-hidden="true" className="size-4" />}
                        {e.enabled ? w.disable : w.enable}
                      </Button>
                      <Button size="sm" onClick={() => void run(async () => { setSecretCopied(false); setSecret((await webhooksApi.rotate(e.id)).secret); })}>
                        <KeyRound aria-hidden="true" className="size-4" />
                        {w.rotate}
                      </Button>
                      <Button size="sm" variant="destructive-outline" onClick={() => void run(() => webhooksApi.remove(e.id))}>
                        <Trash2 aria-hidden="true" className="size-4" />
                        {w.remove}
                      </Button>
                    </div>
                  ) : null}
                </li>
              ))}
            </ul>
          ) : null}
          {canEdit ? (
            <ActionForm className="flex flex-col gap-4 border-t border-border pt-4" onAction={add}>
              <InputField
                id="webhook-url"
                label={w.url}
                error={fieldError}
                type="url"
                required
                value={url}
                onChange={(ev) => setUrl(ev.target.value)}
                placeholder="https://"
                {...verbatimInput}
              />
              <fieldset className="m-0 flex min-w-0 flex-col gap-2 border-0 p-0">
                <legend className="mb-1 text-sm font-medium">{w.events}</legend>
                {(["message.received", "mailbox.status_changed"] as const).map((type) => (
                  <CheckboxField key={type} id={`webhook-event-${type}`} label={eventLabel(type)} checked={events.includes(type)} onCheckedChange={() => toggleEvent(type)} />
                ))}
              </fieldset>
              <InputField
                id="webhook-inline-raw"
                label={w.inlineRaw}
                className="max-w-[320px]"
                type="number"
                min={0}
                max={5242880}
                value={inlineRaw}
                onChange={(ev) => setInlineRaw(Number(ev.target.value) || 0)}
              />
              <div>
                <Button type="submit" variant="default" className="max-sm:w-full" disabled={events.length === 0}>
                  <Plus aria-hidden="true" className="size-4" />
                  {w.add}
                </Button>
              </div>
            </ActionForm>
          ) : null}
        </Card>

        <Card as="section" className="flex flex-col gap-4 p-4 sm:p-6" aria-labelledby="webhook-deliveries-title">
          <div className="flex flex-wrap items-center justify-between gap-3">
            <h2 id="webhook-deliveries-title" className="text-lg">
              {w.deliveries}
            </h2>
            <Button size="sm" variant="ghost" onClick={() => void load()}>
              <RefreshCw aria-hidden="true" className="size-4" />
              {w.refresh}
            </Button>
          </div>
          {deliveries.length === 0 ? (
            <p className="text-sm text-muted-foreground">{w.noDeliveries}</p>
          ) : (
            // relative: the screen-reader-only header text stays inside the scrolling box on a phone.
            <div className="relative overflow-x-auto rounded-md border border-border">
              <table className="w-full min-w-[680px] border-collapse text-sm [overflow-wrap:normal]">
                <thead className="bg-muted text-left text-caption whitespace-nowrap text-muted-foreground">
                  <tr>
                    <th className="px-3 py-2 font-medium">{w.event}</th>
                    <th className="px-3 py-2 font-medium">
                      {t.webhooks.status.succeeded}/{t.webhooks.status.failed}
                    </th>
                    <th className="px-3 py-2 font-medium">{w.attempts}</th>
                    <th className="px-3 py-2 font-medium">{w.lastResponse}</th>
                    <th className="px-3 py-2 font-medium">{w.nextAttempt}</th>
                    <th className="px-3 py-2">
                      <span className="sr-only">{w.replay}</span>
                    </th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-border">
                  {deliveries.map((d) => (
                    <tr key={d.id} className="align-top">
                      <td className="px-3 py-2.5">
                        <span className="font-medium">{eventLabel(d.eventType)}</span>
                        <code className="block font-mono text-xs text-muted-foreground">{d.eventId}</code>
                      </td>
                      <td className="px-3 py-2.5">
                        <Badge size="sm" tone={STATUS_TONE[d.status]}>
                          {w.status[d.status]}
                        </Badge>
                      </td>
                      <td className="px-3 py-2.5 tabular-nums">{d.attempts}</td>
                      <td className="max-w-[260px] px-3 py-2.5">
                        <span className="font-mono tabular-nums">{d.lastStatusCode ?? "–"}</span>{" "}
                        <span className="text-muted-foreground">{d.lastResponse?.slice(0, 120)}</span>
                      </td>
                      <td className="px-3 py-2.5 whitespace-nowrap">{d.nextAttemptAt ? formatDateTime(locale, d.nextAttemptAt) : "–"}</td>
                      <td className="px-3 py-2.5 text-right">
                        {canEdit && d.status !== "pending" ? (
                          <Button size="xs" onClick={() => void run(async () => void (await webhooksApi.replay(d.id)))}>
                            <Send aria-hidden="true" className="size-3.5" />
                            {w.replay}
                          </Button>
                        ) : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
      </main>
    </PageContainer>
  );
}
