"use client";

import { Building2, ExternalLink } from "lucide-react";
import { useId, useState, type ReactElement, type ReactNode } from "react";
import { fmt } from "@/lib/i18n";
import {
  AFTER_INGEST_MODES,
  ApiError,
  apiFetch,
  START_MODES,
  type AfterIngest,
  type EmailType,
  type MailboxConfig,
  type MailboxKind,
  type StartMode,
} from "./email-api";
import { describeApiError } from "./error-text";
import { useI18n } from "./i18n-provider";
import { ActionForm } from "./ui/action-form";
import { Alert } from "./ui/alert";
import { PendingButton } from "./ui/button";
import { FormControl, FormField, InputField, SelectField } from "./ui/form-field";
import { verbatimInput } from "./ui/input";
import { RadioGroup, RadioOption } from "./ui/radio-group";
import { Textarea } from "./ui/textarea";
import { usePendingAction } from "./ui/use-pending-action";

/**
 * Issue 18: the kinds of a Microsoft or Google connection besides "my own mailbox" (which stays
 * the existing sign-in, passed in as `ownConnect`): a Microsoft 365 shared mailbox (sign in as an
 * admin who has access), app-only Graph (tenant, client id and secret; admin-consent link), and
 * Google Workspace domain-wide delegation (service account key). The secret and the key are sent
 * once and never shown again.
 */
type Props = {
  emailType: EmailType;
  provider: "google" | "microsoft";
  config: MailboxConfig | null;
  canEdit: boolean;
  onSaved: (config: MailboxConfig) => void;
  /** The existing "connect my own mailbox" sign-in. */
  ownConnect: ReactNode;
};

/** Entra's admin-consent page for the typed tenant and app (public cloud). */
function consentUrl(tenantId: string, clientId: string): string | null {
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]{0,99}$/.test(tenantId) || !clientId.trim()) return null;
  const url = new URL(`https://login.microsoftonline.com/${encodeURIComponent(tenantId)}/v2.0/adminconsent`);
  url.searchParams.set("client_id", clientId.trim());
  url.searchParams.set("scope", "https://graph.microsoft.com/.default");
  return url.toString();
}

export function OrganisationMailboxForm({ emailType, provider, config, canEdit, onSaved, ownConnect }: Props): ReactElement {
  const { t, locale } = useI18n();
  const o = t.organisation;
  const ids = useId();
  const saved = config;
  const savedKind: MailboxKind = saved?.provider === provider ? (saved.mailbox_kind ?? "own") : "own";
  const kinds: MailboxKind[] = provider === "microsoft" ? ["own", "shared", "app_only"] : ["own", "delegated"];
  const [kind, setKind] = useState<MailboxKind>(savedKind);
  const org = saved?.provider === provider ? (saved.organisation ?? null) : null;
  const [address, setAddress] = useState(savedKind !== "own" ? (saved?.address ?? "") : "");
  const [tenantId, setTenantId] = useState(org?.tenant_id ?? "");
  const [clientId, setClientId] = useState(savedKind === "app_only" ? (org?.client_id ?? "") : "");
  const [clientSecret, setClientSecret] = useState("");
  const [key, setKey] = useState("");
  const [startMode, setStartMode] = useState<StartMode>(saved?.start_mode ?? "unread");
  const [startSince, setStartSince] = useState("");
  const [afterIngest, setAfterIngest] = useState<AfterIngest>(saved?.after_ingest ?? "mark_read");
  const [moveTo, setMoveTo] = useState(saved?.move_to_folder ?? "");
  const action = usePendingAction();
  const busy = action.pending;
  // The server names the fields it refused; the form translates the failure by its code.
  const fieldErrors: Record<string, string> = action.error instanceof ApiError ? action.error.fields : {};
  const error = action.error ? describeApiError(t, locale, action.error, o.failed) : null;

  const common = {
    address,
    start_mode: startMode,
    ...(startMode === "since" ? { start_since: startSince } : {}),
    after_ingest: afterIngest,
    ...(afterIngest === "move" ? { move_to_folder: moveTo } : {}),
  };

  const connectShared = async (): Promise<void> => {
    await action.run(async () => {
      const res = await apiFetch<{ authorization_url: string }>("/api/oauth/microsoft/authorize", {
        method: "POST",
        body: { email_type: emailType, mailbox_kind: "shared", shared_address: address },
      });
      // The whole page goes to Microsoft and comes back to the settings page; the form stays
      // busy (never settles) until the page is gone, so a second click cannot start another sign-in.
      window.location.assign(res.authorization_url);
      await new Promise<never>(() => {});
    });
  };

  const save = async (): Promise<void> => {
    const body =
      kind === "app_only"
        ? { mailbox_kind: "app_only", ...common, tenant_id: tenantId, client_id: clientId, ...(clientSecret ? { client_secret: clientSecret } : {}) }
        : { mailbox_kind: "delegated", ...common, ...(key ? { service_account_key: key } : {}) };
    await action.run(async () => {
      const result = await apiFetch<MailboxConfig>(`/api/tenant/email/organisation/${emailType}`, { method: "PUT", body });
      setClientSecret("");
      setKey("");
      onSaved(result);
    });
  };

  /** The id and the server's message of one field, by the name the API uses for it. */
  const named = (name: string): { id: string; error: string | null } => ({ id: `${ids}-${name}`, error: fieldErrors[name] ?? null });

  const summary =
    org && savedKind === "shared"
      ? fmt(o.summaryShared, { account: org.via_account ?? "?" })
      : org && savedKind === "app_only"
        ? fmt(o.summaryAppOnly, { clientId: org.client_id ?? "?" })
        : org && savedKind === "delegated"
          ? fmt(o.summaryDelegated, { serviceAccount: org.service_account_email ?? "?" })
          : null;
  const consent = kind === "app_only" ? consentUrl(tenantId, clientId) : null;

  const addressField = kind === "shared" ? "shared_address" : "address";
  const steps = kind === "shared" ? o.sharedHint : kind === "app_only" ? o.appSteps : kind === "delegated" ? o.delegatedSteps : null;

  return (
    <div className="flex max-w-[760px] flex-col gap-5" data-testid="organisation-mailbox">
      {summary ? (
        <p className="flex items-center gap-3" data-testid="organisation-summary">
          <Building2 aria-hidden="true" className="size-5 flex-none text-muted-foreground" />
          <span className="flex min-w-0 flex-col text-sm">
            <span className="text-body font-semibold" data-testid="organisation-summary-address">
              {saved?.address}
            </span>
            <span className="text-muted-foreground" data-testid="organisation-summary-detail">
              {summary}
            </span>
          </span>
        </p>
      ) : null}
      <div className="flex min-w-0 flex-col gap-2">
        <span id={`${ids}-kind-legend`} className="text-sm font-medium">
          {o.legend}
        </span>
        <RadioGroup
          name={`${ids}-kind`}
          value={kind}
          onValueChange={(v) => setKind(v as MailboxKind)}
          disabled={!canEdit || busy}
          aria-labelledby={`${ids}-kind-legend`}
          className="gap-2"
        >
          {kinds.map((k) => (
            <RadioOption key={k} value={k}>
              {o.kinds[k]}
            </RadioOption>
          ))}
        </RadioGroup>
      </div>

      {kind === "own" ? ownConnect : null}

      {kind !== "own" ? (
        <ActionForm className="flex flex-col gap-4" aria-label={o.kinds[kind]} onAction={kind === "shared" ? connectShared : save}>
          <fieldset className="m-0 flex min-w-0 flex-col gap-4 border-0 p-0" disabled={!canEdit || busy}>
            {steps ? (
              <Alert as="p" tone="notice">
                {steps}
              </Alert>
            ) : null}
            <InputField {...named(addressField)} label={o.address} type="email" value={address} onChange={(e) => setAddress(e.target.value)} {...verbatimInput} />
            {kind === "app_only" ? (
              <>
                <div className="grid gap-4 sm:grid-cols-2">
                  <InputField {...named("tenant_id")} label={o.tenantId} value={tenantId} onChange={(e) => setTenantId(e.target.value)} {...verbatimInput} />
                  <InputField {...named("client_id")} label={o.clientId} value={clientId} onChange={(e) => setClientId(e.target.value)} {...verbatimInput} />
                </div>
                <InputField
                  {...named("client_secret")}
                  label={o.clientSecret}
                  hint={org?.has_client_secret ? o.keepSecret : undefined}
                  type="password"
                  value={clientSecret}
                  onChange={(e) => setClientSecret(e.target.value)}
                  autoComplete="new-password"
                />
                {consent ? (
                  <p>
                    <a
                      href={consent}
                      target="_blank"
                      rel="noreferrer noopener"
                      data-testid="admin-consent-link"
                      className="inline-flex items-center gap-1.5 text-sm font-medium text-primary underline-offset-4 hover:underline"
                    >
                      {o.consentLink}
                      <ExternalLink aria-hidden="true" className="size-3.5" />
                    </a>
                  </p>
                ) : null}
              </>
            ) : null}
            {kind === "delegated" ? (
              <>
                <FormField {...named("service_account_key")} label={o.serviceAccountKey} hint={org?.has_service_account_key ? o.keepKey : undefined}>
                  <FormControl>
                    <Textarea rows={4} className="font-mono text-sm" value={key} onChange={(e) => setKey(e.target.value)} {...verbatimInput} />
                  </FormControl>
                </FormField>
                {org?.client_id ? <p className="text-caption text-muted-foreground">{fmt(o.delegatedClientId, { clientId: org.client_id })}</p> : null}
              </>
            ) : null}
            {kind !== "shared" ? (
              <div className="grid gap-4 sm:grid-cols-2">
                <SelectField {...named("start_mode")} label={o.startMode} values={START_MODES} labels={o.startModes} value={startMode} onChange={(e) => setStartMode(e.target.value as StartMode)} />
                {startMode === "since" ? (
                  <InputField {...named("start_since")} label={o.startSince} type="date" value={startSince} onChange={(e) => setStartSince(e.target.value)} />
                ) : null}
                <SelectField {...named("after_ingest")} label={o.afterIngest} values={AFTER_INGEST_MODES} labels={o.afterIngestModes} value={afterIngest} onChange={(e) => setAfterIngest(e.target.value as AfterIngest)} />
                {afterIngest === "move" ? <InputField {...named("move_to_folder")} label={o.moveTo} value={moveTo} onChange={(e) => setMoveTo(e.target.value)} /> : null}
              </div>
            ) : null}
            {error ? (
              <Alert as="p" tone="error" role="alert">
                {error}
              </Alert>
            ) : null}
            <div>
              <PendingButton type="submit" variant="default" className="max-sm:w-full" pending={busy} pendingLabel={o.saving}>
                {kind === "shared" ? o.sharedConnect : o.save}
              </PendingButton>
            </div>
          </fieldset>
        </ActionForm>
      ) : null}
    </div>
  );
}
