"use client";

import { useId, useState, type ReactNode } from "react";
import { fmt } from "@/lib/i18n";
import { ApiError, apiFetch, type EmailType, type MailboxConfig } from "./email-api";
import { useI18n } from "./i18n-provider";

/**
 * Issue 18: the kinds of a Microsoft or Google connection besides "my own mailbox" (which stays
 * the existing sign-in, passed in as `ownConnect`): a Microsoft 365 shared mailbox (sign in as an
 * admin who has access), app-only Graph (tenant, client id and secret; admin-consent link), and
 * Google Workspace domain-wide delegation (service account key). The secret and the key are sent
 * once and never shown again.
 */
type Kind = "own" | "shared" | "app_only" | "delegated";

export type OrganisationInfo = {
  via_account: string | null;
  tenant_id: string | null;
  client_id: string | null;
  has_client_secret: boolean;
  service_account_email: string | null;
  has_service_account_key: boolean;
  notifications: "push" | "poll";
  admin_consent_url: string | null;
};

type OrgConfig = MailboxConfig & { mailbox_kind?: Kind; organisation?: OrganisationInfo | null };

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

export function OrganisationMailboxForm({ emailType, provider, config, canEdit, onSaved, ownConnect }: Props) {
  const { t } = useI18n();
  const o = t.organisation;
  const ids = useId();
  const saved = config as OrgConfig | null;
  const savedKind: Kind = saved?.provider === provider ? (saved.mailbox_kind ?? "own") : "own";
  const kinds: Kind[] = provider === "microsoft" ? ["own", "shared", "app_only"] : ["own", "delegated"];
  const [kind, setKind] = useState<Kind>(savedKind);
  const org = saved?.provider === provider ? (saved.organisation ?? null) : null;
  const [address, setAddress] = useState(savedKind !== "own" ? (saved?.address ?? "") : "");
  const [tenantId, setTenantId] = useState(org?.tenant_id ?? "");
  const [clientId, setClientId] = useState(savedKind === "app_only" ? (org?.client_id ?? "") : "");
  const [clientSecret, setClientSecret] = useState("");
  const [key, setKey] = useState("");
  const [startMode, setStartMode] = useState<"unread" | "since" | "new_only">(saved?.start_mode ?? "unread");
  const [startSince, setStartSince] = useState("");
  const [afterIngest, setAfterIngest] = useState<"mark_read" | "none" | "move">(saved?.after_ingest ?? "mark_read");
  const [moveTo, setMoveTo] = useState(saved?.move_to_folder ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});

  const common = {
    address,
    start_mode: startMode,
    ...(startMode === "since" ? { start_since: startSince } : {}),
    after_ingest: afterIngest,
    ...(afterIngest === "move" ? { move_to_folder: moveTo } : {}),
  };

  const fail = (err: unknown): void => {
    if (err instanceof ApiError) {
      setFieldErrors(err.fields);
      setError(err.message || o.failed);
    } else setError(o.failed);
  };

  const connectShared = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    setFieldErrors({});
    try {
      const res = await apiFetch<{ authorization_url: string }>("/api/oauth/microsoft/authorize", {
        method: "POST",
        body: { email_type: emailType, mailbox_kind: "shared", shared_address: address },
      });
      // The whole page goes to Microsoft and comes back to the settings page.
      window.location.assign(res.authorization_url);
    } catch (err) {
      fail(err);
      setBusy(false);
    }
  };

  const save = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    setFieldErrors({});
    const body =
      kind === "app_only"
        ? { mailbox_kind: "app_only", ...common, tenant_id: tenantId, client_id: clientId, ...(clientSecret ? { client_secret: clientSecret } : {}) }
        : { mailbox_kind: "delegated", ...common, ...(key ? { service_account_key: key } : {}) };
    try {
      const result = await apiFetch<MailboxConfig>(`/api/tenant/email/organisation/${emailType}`, { method: "PUT", body });
      setClientSecret("");
      setKey("");
      onSaved(result);
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };

  const field = (name: string, label: string, input: ReactNode, hint?: string): ReactNode => (
    <div className="field">
      <label className="field-label" htmlFor={`${ids}-${name}`}>
        {label}
      </label>
      {input}
      {hint ? <p className="field-hint">{hint}</p> : null}
      {fieldErrors[name] ? (
        <p className="field-error" role="alert">
          {fieldErrors[name]}
        </p>
      ) : null}
    </div>
  );

  const summary =
    org && savedKind === "shared"
      ? fmt(o.summaryShared, { account: org.via_account ?? "?" })
      : org && savedKind === "app_only"
        ? fmt(o.summaryAppOnly, { clientId: org.client_id ?? "?" })
        : org && savedKind === "delegated"
          ? fmt(o.summaryDelegated, { serviceAccount: org.service_account_email ?? "?" })
          : null;
  const consent = kind === "app_only" ? consentUrl(tenantId, clientId) : null;

  return (
    <div className="organisation-mailbox" data-testid="organisation-mailbox">
      {summary ? (
        <p className="settings-summary" data-testid="organisation-summary">
          <span className="settings-summary-text">
            <span className="settings-summary-address">{saved?.address}</span>
            <span className="muted">{summary}</span>
          </span>
        </p>
      ) : null}
      <fieldset className="field" disabled={!canEdit || busy}>
        <legend className="field-label">{o.legend}</legend>
        {kinds.map((k) => (
          <label key={k} className="radio-option">
            <input type="radio" name={`${ids}-kind`} value={k} checked={kind === k} onChange={() => setKind(k)} /> {o.kinds[k]}
          </label>
        ))}
      </fieldset>

      {kind === "own" ? ownConnect : null}

      {kind !== "own" ? (
        <form
          className="form organisation-form"
          aria-label={o.kinds[kind]}
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            void (kind === "shared" ? connectShared() : save());
          }}
        >
          <fieldset className="fieldset-plain" disabled={!canEdit || busy}>
            {kind === "shared" ? <p className="field-hint">{o.sharedHint}</p> : null}
            {kind === "app_only" ? <p className="field-hint">{o.appSteps}</p> : null}
            {kind === "delegated" ? <p className="field-hint">{o.delegatedSteps}</p> : null}
            {field(
              kind === "shared" ? "shared_address" : "address",
              o.address,
              <input id={`${ids}-${kind === "shared" ? "shared_address" : "address"}`} className="input" type="email" value={address} onChange={(e) => setAddress(e.target.value)} autoComplete="off" />,
            )}
            {kind === "app_only" ? (
              <>
                {field("tenant_id", o.tenantId, <input id={`${ids}-tenant_id`} className="input" value={tenantId} onChange={(e) => setTenantId(e.target.value)} autoComplete="off" />)}
                {field("client_id", o.clientId, <input id={`${ids}-client_id`} className="input" value={clientId} onChange={(e) => setClientId(e.target.value)} autoComplete="off" />)}
                {field(
                  "client_secret",
                  o.clientSecret,
                  <input id={`${ids}-client_secret`} className="input" type="password" value={clientSecret} onChange={(e) => setClientSecret(e.target.value)} autoComplete="new-password" />,
                  org?.has_client_secret ? o.keepSecret : undefined,
                )}
                {consent ? (
                  <p>
                    <a href={consent} target="_blank" rel="noreferrer noopener" data-testid="admin-consent-link">
                      {o.consentLink}
                    </a>
                  </p>
                ) : null}
              </>
            ) : null}
            {kind === "delegated" ? (
              <>
                {field(
                  "service_account_key",
                  o.serviceAccountKey,
                  <textarea id={`${ids}-service_account_key`} className="input" rows={4} value={key} onChange={(e) => setKey(e.target.value)} spellCheck={false} autoComplete="off" />,
                  org?.has_service_account_key ? o.keepKey : undefined,
                )}
                {org?.client_id ? <p className="field-hint">{fmt(o.delegatedClientId, { clientId: org.client_id })}</p> : null}
              </>
            ) : null}
            {kind !== "shared" ? (
              <>
                {field(
                  "start_mode",
                  o.startMode,
                  <select id={`${ids}-start_mode`} className="input" value={startMode} onChange={(e) => setStartMode(e.target.value as typeof startMode)}>
                    {(["unread", "since", "new_only"] as const).map((m) => (
                      <option key={m} value={m}>
                        {o.startModes[m]}
                      </option>
                    ))}
                  </select>,
                )}
                {startMode === "since"
                  ? field("start_since", o.startSince, <input id={`${ids}-start_since`} className="input" type="date" value={startSince} onChange={(e) => setStartSince(e.target.value)} />)
                  : null}
                {field(
                  "after_ingest",
                  o.afterIngest,
                  <select id={`${ids}-after_ingest`} className="input" value={afterIngest} onChange={(e) => setAfterIngest(e.target.value as typeof afterIngest)}>
                    {(["mark_read", "none", "move"] as const).map((m) => (
                      <option key={m} value={m}>
                        {o.afterIngestModes[m]}
                      </option>
                    ))}
                  </select>,
                )}
                {afterIngest === "move" ? field("move_to_folder", o.moveTo, <input id={`${ids}-move_to_folder`} className="input" value={moveTo} onChange={(e) => setMoveTo(e.target.value)} />) : null}
              </>
            ) : null}
            {error ? (
              <p className="alert alert-error" role="alert">
                {error}
              </p>
            ) : null}
            <button type="submit" className="button button-primary">
              {busy ? o.saving : kind === "shared" ? o.sharedConnect : o.save}
            </button>
          </fieldset>
        </form>
      ) : null}
    </div>
  );
}
