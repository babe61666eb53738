"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import { useForm, type FieldError } from "react-hook-form";
import {
  DEFAULT_PORTS,
  mailboxSettingsSchema,
  type MailboxSettings,
  type MailboxSettingsInput,
} from "@/lib/email/settings-schema";
import { en } from "@/lib/i18n/en";
import { fmt, plural } from "@/lib/i18n";
import { api, ApiError, type EmailType, type MailboxConfig, type Protocol } from "./email-api";
import { describeApiError, describeMailError, type MailErrorText } from "./error-text";
import { useI18n } from "./i18n-provider";
import { WELL_KNOWN_HOSTS, wellKnownProviderFor } from "./well-known-providers";

type FieldName = keyof MailboxSettingsInput;

type TestState =
  | { kind: "idle" }
  | {
      kind: "ok";
      folder: string;
      exists: number | null;
      unseen: number | null;
      protocol: Protocol;
      startCounts: { unread: number; since: number | null; total: number } | null;
    }
  | { kind: "failed"; text: MailErrorText }
  | { kind: "error"; message: string };

export type ImapSettingsFormProps = {
  emailType: EmailType;
  config: MailboxConfig | null;
  canEdit: boolean;
  onSaved: (config: MailboxConfig) => void;
  /** The address belongs to Google or Microsoft: offer their connect button instead. */
  onChooseProvider: (provider: "google" | "microsoft") => void;
};

type TlsMode = "implicit" | "starttls" | "none";

function defaultPort(protocol: Protocol, tlsMode: TlsMode): number {
  return DEFAULT_PORTS[protocol][tlsMode === "implicit" ? "ssl" : "plain"];
}

function savedTlsMode(config: MailboxConfig | null): TlsMode {
  return config?.tls_mode ?? (config && !config.use_ssl ? "starttls" : "implicit");
}

const ALL_DEFAULT_PORTS: ReadonlySet<number> = new Set(
  Object.values(DEFAULT_PORTS).flatMap((p) => [p.ssl, p.plain]),
);

function valuesFrom(config: MailboxConfig | null): MailboxSettingsInput {
  const imap = config && config.provider === "imap" ? config : null;
  const protocol: Protocol = imap?.protocol ?? "imap";
  const tlsMode = savedTlsMode(imap);
  return {
    protocol,
    address: imap?.address ?? "",
    host: imap?.host ?? "",
    port: String(imap?.port ?? defaultPort(protocol, tlsMode)),
    tls_mode: tlsMode,
    username: imap?.username && imap.username !== imap.address ? imap.username : "",
    password: "",
    auth_method: imap?.auth_method === "app_password" ? "app_password" : "password",
    folder: imap?.folder ?? "INBOX",
    use_idle: imap?.use_idle ?? true,
    poll_interval_seconds: String(imap?.poll_interval_seconds ?? 60),
    allow_invalid_certificate: imap?.allow_invalid_certificate ?? false,
    delete_after_ingest: imap?.delete_after_ingest ?? false,
    enabled: imap?.enabled ?? true,
    start_mode: imap?.start_mode ?? "unread",
    // <input type="date"> takes YYYY-MM-DD.
    start_since: imap?.start_since ? imap.start_since.slice(0, 10) : "",
    after_ingest: imap?.after_ingest ?? "mark_read",
    move_to_folder: imap?.move_to_folder ?? "",
  };
}

/** What the API gets: an empty password keeps the saved one, an empty username means "the address". */
function requestBody(values: MailboxSettings): Record<string, unknown> {
  const body: Record<string, unknown> = { ...values };
  if (!values.password) delete body.password;
  if (!values.username) delete body.username;
  // tls_mode says it all; use_ssl is only for older clients.
  delete body.use_ssl;
  return body;
}

const sameHost = (a: string, b: string): boolean =>
  a.trim().toLowerCase().replace(/\.$/, "") === b.trim().toLowerCase().replace(/\.$/, "");

/**
 * The saved password is only ever sent to the saved server: once host, port, encryption, protocol or
 * username differ from the saved ones, the server asks for the password again, so the form does too.
 */
function connectionChanged(config: MailboxConfig | null, values: Partial<MailboxSettingsInput>): boolean {
  if (!config || config.provider !== "imap" || !config.has_password) return false;
  const user = (values.username ?? "").trim() || (values.address ?? "").trim();
  const savedUser = config.username || config.address || "";
  return (
    !sameHost(values.host ?? "", config.host ?? "") ||
    Number(values.port) !== config.port ||
    (values.tls_mode ?? "implicit") !== savedTlsMode(config) ||
    (values.protocol ?? "imap") !== config.protocol ||
    user !== savedUser
  );
}

/**
 * The IMAP / POP3 form. Validation is the shared zod schema (the PUT route uses the same one);
 * its English messages are shown translated, keyed by field and issue code.
 */
export function ImapSettingsForm({ emailType, config, canEdit, onSaved, onChooseProvider }: ImapSettingsFormProps) {
  const { t, locale } = useI18n();
  const uid = useId();
  const id = (name: string): string => `${emailType}-${name}${uid}`;
  const hasPassword = config?.provider === "imap" && config.has_password;

  const {
    register,
    handleSubmit,
    watch,
    setValue,
    getValues,
    setError,
    reset,
    formState: { errors, isSubmitting },
  } = useForm<MailboxSettingsInput, unknown, MailboxSettings>({
    resolver: zodResolver(mailboxSettingsSchema),
    defaultValues: valuesFrom(config),
    mode: "onTouched",
  });

  // A newly saved config (or a removal) resets the form to what the server has.
  const configKey = JSON.stringify(config ? { ...config, last_success_at: null, last_error: null, error_count_24h: 0 } : null);
  const lastConfigKey = useRef(configKey);
  useEffect(() => {
    if (lastConfigKey.current === configKey) return;
    lastConfigKey.current = configKey;
    reset(valuesFrom(config));
  }, [configKey, config, reset]);

  const [test, setTest] = useState<TestState>({ kind: "idle" });
  const [testing, setTesting] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [prefilledFor, setPrefilledFor] = useState<string | null>(null);
  const [showPassword, setShowPassword] = useState(false);

  // Any edit makes an earlier test result stale.
  useEffect(() => {
    const sub = watch((_values, { type }) => {
      if (type === "change") {
        setTest((prev) => (prev.kind === "idle" ? prev : { kind: "idle" }));
        setFormError(null);
      }
    });
    return () => sub.unsubscribe();
  }, [watch]);

  const protocol = (watch("protocol") ?? "imap") as Protocol;
  const tlsMode = (watch("tls_mode") ?? "implicit") as TlsMode;
  const passwordAgain = connectionChanged(config, watch());
  const useIdle = watch("use_idle") ?? true;
  const startMode = watch("start_mode") ?? "unread";
  const afterIngest = watch("after_ingest") ?? "mark_read";
  const address = watch("address") ?? "";
  const known = wellKnownProviderFor(address);

  const message = (name: FieldName): string | null => {
    const err = errors[name] as FieldError | undefined;
    if (!err) return null;
    return t.fieldErrors[`${name}.${err.type}`] ?? err.message ?? t.errors.generic;
  };

  /** Fills the server of a well-known provider, unless the admin typed their own. */
  const prefillFromAddress = (value: string): void => {
    const provider = wellKnownProviderFor(value);
    if (!provider) return;
    const host = (getValues("host") ?? "").trim().toLowerCase();
    if (host && !WELL_KNOWN_HOSTS.has(host)) return;
    const proto = (getValues("protocol") ?? "imap") as Protocol;
    const server = proto === "pop3" && provider.pop3 ? provider.pop3 : provider.imap;
    if (host === server.host) return;
    setValue("host", server.host, { shouldDirty: true });
    setValue("port", String(server.port), { shouldDirty: true });
    setValue("tls_mode", "implicit", { shouldDirty: true });
    if (provider.appPassword) setValue("auth_method", "app_password", { shouldDirty: true });
    setPrefilledFor(provider.name);
  };

  /** A port still at a default follows protocol and encryption changes. */
  const adjustPort = (nextProtocol: Protocol, nextMode: TlsMode): void => {
    const port = Number(getValues("port"));
    if (!getValues("port") || ALL_DEFAULT_PORTS.has(port)) {
      setValue("port", String(defaultPort(nextProtocol, nextMode)), { shouldDirty: true });
    }
  };

  const requirePassword = (values: MailboxSettings): boolean => {
    if (values.password) return true;
    if (hasPassword && !connectionChanged(config, getValues())) return true;
    const again = hasPassword;
    setError(
      "password",
      { type: again ? "again" : "required", message: again ? en.form.password.requiredAgain : en.form.password.required },
      { shouldFocus: true },
    );
    return false;
  };

  const onTest = handleSubmit(async (values) => {
    setFormError(null);
    if (!requirePassword(values)) return;
    setTesting(true);
    setTest({ kind: "idle" });
    try {
      const result = await api.testSettings(emailType, requestBody(values));
      if (result.ok) {
        setTest({
          kind: "ok",
          folder: result.folder ?? values.folder,
          exists: typeof result.exists === "number" ? result.exists : null,
          unseen: typeof result.unseen === "number" ? result.unseen : null,
          protocol: values.protocol,
          startCounts: result.start_counts ?? null,
        });
      } else {
        setTest({
          kind: "failed",
          text: describeMailError(t, locale, result.error ?? {}, {
            host: values.host,
            port: values.port,
            folder: values.folder,
            protocol: values.protocol,
          }),
        });
      }
    } catch (err) {
      applyServerErrors(err);
    } finally {
      setTesting(false);
    }
  }, onInvalid);

  const onSave = handleSubmit(async (values) => {
    setFormError(null);
    if (!requirePassword(values)) return;
    try {
      const saved = await api.saveSettings(emailType, requestBody(values));
      setTest({ kind: "idle" });
      onSaved(saved);
    } catch (err) {
      applyServerErrors(err);
    }
  }, onInvalid);

  function onInvalid(): void {
    setFormError(t.form.fixErrors);
  }

  function applyServerErrors(err: unknown): void {
    if (err instanceof ApiError && Object.keys(err.fields).length > 0) {
      let first = true;
      for (const [name, msg] of Object.entries(err.fields)) {
        if (name in valuesFrom(null)) {
          // password_required: the connection changed, so the saved password may not be used (translated).
          const type = name === "password" && err.code === "password_required" ? "again" : "server";
          setError(name as FieldName, { type, message: msg }, { shouldFocus: first });
          first = false;
        }
      }
      setFormError(t.form.fixErrors);
      return;
    }
    setFormError(describeApiError(t, locale, err));
  }

  /** id, aria-invalid and aria-describedby for an input with an optional hint. */
  const a11y = (name: FieldName, hasHint = false) => {
    const described = [hasHint ? `${id(name)}-hint` : null, errors[name] ? `${id(name)}-error` : null].filter(Boolean);
    return {
      id: id(name),
      "aria-invalid": errors[name] ? ("true" as const) : ("false" as const),
      "aria-describedby": described.length ? described.join(" ") : undefined,
    };
  };

  const busy = isSubmitting || testing;

  return (
    <form className="form imap-form" onSubmit={onSave} noValidate aria-label={t.provider.imap.label}>
      <fieldset className="fieldset-plain" disabled={!canEdit}>
        <Field id={id("address")} label={t.form.address.label} hint={t.form.address.hint} error={message("address")}>
          <input
            className="input"
            type="email"
            autoComplete="off"
            spellCheck={false}
            {...a11y("address", true)}
            {...register("address", { onChange: (e: { target: { value: string } }) => prefillFromAddress(e.target.value) })}
          />
        </Field>

        {known?.oauth || prefilledFor || known?.appPassword ? (
          <div className="notice notice-info">
            {prefilledFor ? <p>{fmt(t.form.prefilled, { provider: prefilledFor })}</p> : null}
            {known?.appPassword ? <p>{fmt(t.form.appPasswordHint, { provider: known.name })}</p> : null}
            {known?.oauth ? (
              <p className="notice-row">
                <span>{fmt(t.form.oauthHint, { provider: known.oauth === "google" ? "Google" : "Microsoft" })}</span>
                <button type="button" className="button button-small" onClick={() => onChooseProvider(known.oauth!)}>
                  {fmt(t.form.useOAuth, { provider: known.oauth === "google" ? "Google" : "Microsoft" })}
                </button>
              </p>
            ) : null}
          </div>
        ) : null}

        <fieldset className="field">
          <legend className="field-label">{t.form.protocol.legend}</legend>
          <div className="segmented">
            {(["imap", "pop3"] as const).map((p) => (
              <label key={p} className="segmented-option">
                <input
                  type="radio"
                  value={p}
                  className="visually-hidden"
                  {...register("protocol", {
                    onChange: () => {
                      adjustPort(p, (getValues("tls_mode") ?? "implicit") as TlsMode);
                      const provider = wellKnownProviderFor(getValues("address") ?? "");
                      const host = (getValues("host") ?? "").trim().toLowerCase();
                      if (provider && (!host || WELL_KNOWN_HOSTS.has(host))) {
                        const server = p === "pop3" && provider.pop3 ? provider.pop3 : provider.imap;
                        setValue("host", server.host, { shouldDirty: true });
                      }
                    },
                  })}
                />
                <span>{t.form.protocol[p]}</span>
              </label>
            ))}
          </div>
          {protocol === "pop3" ? <p className="field-hint">{t.form.protocol.pop3Hint}</p> : null}
        </fieldset>

        <div className="field-row">
          <Field id={id("host")} label={t.form.host.label} hint={t.form.host.hint} error={message("host")} grow>
            <input
              className="input"
              type="text"
              autoComplete="off"
              spellCheck={false}
              autoCapitalize="none"
              {...a11y("host", true)}
              {...register("host", { onChange: () => setPrefilledFor(null) })}
            />
          </Field>
          <Field id={id("port")} label={t.form.port.label} error={message("port")} narrow>
            <input className="input" type="text" inputMode="numeric" autoComplete="off" {...a11y("port")} {...register("port")} />
          </Field>
        </div>

        <Field id={id("tls_mode")} label={t.form.tls_mode.label} hint={t.form.tls_mode.hint} error={message("tls_mode")}>
          <select
            className="input"
            {...a11y("tls_mode", true)}
            {...register("tls_mode", {
              onChange: (e: { target: { value: string } }) =>
                adjustPort((getValues("protocol") ?? "imap") as Protocol, e.target.value as TlsMode),
            })}
          >
            <option value="implicit">{t.form.tls_mode.implicit}</option>
            <option value="starttls">{t.form.tls_mode.starttls}</option>
            <option value="none">{t.form.tls_mode.none}</option>
          </select>
        </Field>
        {tlsMode === "none" ? (
          <p className="alert alert-error" role="alert" data-testid="plaintext-warning">
            {t.form.tls_mode.noneWarning}
          </p>
        ) : null}

        <div className="field-row">
          <Field id={id("username")} label={t.form.username.label} hint={t.form.username.hint} error={message("username")} grow>
            <input
              className="input"
              type="text"
              autoComplete="off"
              spellCheck={false}
              autoCapitalize="none"
              placeholder={address || undefined}
              {...a11y("username", true)}
              {...register("username")}
            />
          </Field>
          <Field id={id("auth_method")} label={t.form.auth_method.label} grow>
            <select className="input" id={id("auth_method")} {...register("auth_method")}>
              <option value="password">{t.form.auth_method.password}</option>
              <option value="app_password">{t.form.auth_method.app_password}</option>
            </select>
          </Field>
        </div>

        <Field
          id={id("password")}
          label={t.form.password.label}
          hint={passwordAgain ? t.form.password.requiredAgain : hasPassword ? t.form.password.statusSaved : t.form.password.statusNotSaved}
          error={message("password")}
        >
          <div className="input-with-button">
            <input
              className="input"
              type={showPassword ? "text" : "password"}
              autoComplete="new-password"
              placeholder={hasPassword && !passwordAgain ? t.form.password.savedPlaceholder : undefined}
              aria-required={passwordAgain || !hasPassword}
              {...a11y("password", true)}
              {...register("password")}
            />
            <button
              type="button"
              className="button button-icon-square"
              aria-pressed={showPassword}
              aria-controls={id("password")}
              aria-label={t.form.password.show}
              title={showPassword ? t.form.password.hide : t.form.password.show}
              onClick={() => setShowPassword((v) => !v)}
            >
              <EyeIcon crossed={showPassword} />
            </button>
          </div>
        </Field>

        {protocol === "imap" ? (
          <>
            <Field id={id("folder")} label={t.form.folder.label} hint={t.form.folder.hint} error={message("folder")}>
              <input className="input" type="text" autoComplete="off" spellCheck={false} {...a11y("folder", true)} {...register("folder")} />
            </Field>
            <Checkbox id={id("use_idle")} label={t.form.use_idle.label} hint={t.form.use_idle.hint}>
              <input type="checkbox" id={id("use_idle")} aria-describedby={`${id("use_idle")}-hint`} {...register("use_idle")} />
            </Checkbox>
          </>
        ) : null}

        {protocol === "pop3" || !useIdle ? (
          <Field id={id("poll_interval_seconds")} label={t.form.poll_interval_seconds.label} error={message("poll_interval_seconds")} narrow>
            <input
              className="input"
              type="text"
              inputMode="numeric"
              autoComplete="off"
              {...a11y("poll_interval_seconds")}
              {...register("poll_interval_seconds")}
            />
          </Field>
        ) : null}

        {protocol === "imap" ? (
          <div className="field-row" data-testid="start-after">
            <Field id={id("start_mode")} label={t.form.start_mode.label} hint={config?.started ? t.form.start_mode.started : undefined} grow>
              <select {...a11y("start_mode", Boolean(config?.started))} {...register("start_mode")}>
                {(["unread", "since", "new_only"] as const).map((m) => (
                  <option key={m} value={m}>{t.form.start_mode[m]}</option>
                ))}
              </select>
            </Field>
            {startMode === "since" ? (
              <Field id={id("start_since")} label={t.form.start_since.label} error={message("start_since")}>
                <input type="date" {...a11y("start_since")} {...register("start_since")} />
              </Field>
            ) : null}
            <Field id={id("after_ingest")} label={t.form.after_ingest.label} grow>
              <select {...a11y("after_ingest")} {...register("after_ingest")}>
                {(["mark_read", "none", "move"] as const).map((a) => (
                  <option key={a} value={a}>{t.form.after_ingest[a]}</option>
                ))}
              </select>
            </Field>
            {afterIngest === "move" ? (
              <Field id={id("move_to_folder")} label={t.form.move_to_folder.label} error={message("move_to_folder")}>
                <input type="text" autoComplete="off" {...a11y("move_to_folder")} {...register("move_to_folder")} />
              </Field>
            ) : null}
          </div>
        ) : null}

        <details className="advanced">
          <summary>{t.form.advanced}</summary>
          <div className="advanced-body">
            <Checkbox id={id("enabled")} label={t.form.enabled.label}>
              <input type="checkbox" id={id("enabled")} {...register("enabled")} />
            </Checkbox>
            <Checkbox
              id={id("allow_invalid_certificate")}
              label={t.form.allow_invalid_certificate.label}
              hint={t.form.allow_invalid_certificate.hint}
            >
              <input
                type="checkbox"
                id={id("allow_invalid_certificate")}
                aria-describedby={`${id("allow_invalid_certificate")}-hint`}
                disabled={tlsMode === "none"}
                {...register("allow_invalid_certificate")}
              />
            </Checkbox>
            {protocol === "pop3" ? (
              <Checkbox id={id("delete_after_ingest")} label={t.form.delete_after_ingest.label}>
                <input type="checkbox" id={id("delete_after_ingest")} {...register("delete_after_ingest")} />
              </Checkbox>
            ) : null}
          </div>
        </details>
      </fieldset>

      <div className="live-region" aria-live="polite">
        {formError ? (
          <p className="alert alert-error" role="alert">
            {formError}
          </p>
        ) : null}
        {test.kind === "ok" ? (
          <div className="alert alert-success test-result" data-testid="test-result">
            {test.protocol === "imap" && test.exists !== null
              ? plural(locale, t.form.testOk, test.exists, { folder: test.folder, exists: test.exists, unseen: test.unseen ?? 0 })
              : t.form.testOkPop3}
            {test.startCounts ? (
              <p data-testid="start-counts">
                {fmt(t.form.startCounts, {
                  unread: test.startCounts.unread,
                  since: test.startCounts.since ?? "–",
                  total: test.startCounts.total,
                })}
              </p>
            ) : null}
          </div>
        ) : null}
        {test.kind === "failed" ? (
          <div className="alert alert-error test-result" data-testid="test-result">
            <strong className="alert-title">{t.form.testFailed}</strong>
            <p>{test.text.title}</p>
            <p className="alert-advice">{test.text.advice}</p>
          </div>
        ) : null}
      </div>

      {canEdit ? (
        <div className="form-actions">
          <button type="button" className="button" onClick={() => void onTest()} disabled={busy} aria-busy={testing}>
            {testing ? <Spinner /> : null}
            {testing ? t.form.testing : t.form.test}
          </button>
          <button type="submit" className="button button-primary" disabled={busy} aria-busy={isSubmitting}>
            {isSubmitting ? <Spinner /> : null}
            {isSubmitting ? t.form.saving : t.form.save}
          </button>
        </div>
      ) : null}
    </form>
  );
}

function EyeIcon({ crossed }: { crossed: boolean }) {
  return (
    <svg viewBox="0 0 20 20" width="18" height="18" aria-hidden="true" focusable="false">
      <path
        d="M1.5 10S4.5 4 10 4s8.5 6 8.5 6-3 6-8.5 6-8.5-6-8.5-6z"
        fill="none"
        stroke="currentColor"
        strokeWidth="1.6"
        strokeLinejoin="round"
      />
      <circle cx="10" cy="10" r="2.6" fill="none" stroke="currentColor" strokeWidth="1.6" />
      {crossed ? <path d="M3 17 17 3" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" /> : null}
    </svg>
  );
}

function Spinner() {
  return <span className="spinner" aria-hidden="true" />;
}

function Field(props: {
  id: string;
  label: string;
  hint?: string;
  error?: string | null;
  grow?: boolean;
  narrow?: boolean;
  children: ReactNode;
}) {
  return (
    <div className={`field${props.grow ? " field-grow" : ""}${props.narrow ? " field-narrow" : ""}`}>
      <label htmlFor={props.id} className="field-label">
        {props.label}
      </label>
      {props.children}
      {props.hint ? (
        <span id={`${props.id}-hint`} className="field-hint">
          {props.hint}
        </span>
      ) : null}
      {props.error ? (
        <span id={`${props.id}-error`} className="field-error">
          {props.error}
        </span>
      ) : null}
    </div>
  );
}

function Checkbox(props: { id: string; label: string; hint?: string; children: ReactNode }) {
  return (
    <div className="checkbox">
      {props.children}
      <div className="checkbox-text">
        <label htmlFor={props.id}>{props.label}</label>
        {props.hint ? (
          <span id={`${props.id}-hint`} className="field-hint">
            {props.hint}
          </span>
        ) : null}
      </div>
    </div>
  );
}
