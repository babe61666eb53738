"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import { CircleCheck, Eye, EyeOff, TriangleAlert } from "lucide-react";
import { useEffect, useId, useRef, useState, type ReactElement } from "react";
import { Controller, useForm, type Control, type FieldError } from "react-hook-form";
import {
  DEFAULT_PORTS,
  mailboxSettingsSchema,
  type MailboxSettings,
  type MailboxSettingsInput,
} from "@/lib/mailboxes/settings-schema";
import { en } from "@/lib/i18n/en";
import { fmt, plural } from "@/lib/i18n";
import { AFTER_INGEST_MODES, api, ApiError, START_MODES, type EmailType, type MailboxConfig, type Protocol } from "./email-api";
import { describeApiError, describeMailError, type MailErrorText } from "./error-text";
import { useI18n } from "./i18n-provider";
import { PROVIDER_NAME } from "./provider-select";
import { Alert, AlertTitle, LiveRegion } from "./ui/alert";
import { Button, PendingButton } from "./ui/button";
import { CheckboxField } from "./ui/checkbox";
import { FormControl, FormField, InputField, SelectField } from "./ui/form-field";
import { Input, verbatimInput } from "./ui/input";
import { RadioSegmentedGroup, RadioSegmentedItem } from "./ui/radio-group";
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
export function ImapSettingsForm({ emailType, config, canEdit, onSaved, onChooseProvider }: ImapSettingsFormProps): ReactElement {
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
    control,
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

  /** A field's frame by its name: the id, the dictionary's label and hint, the schema's message. */
  const frame = (name: Exclude<FieldName, "protocol">): { id: string; label: string; hint?: string; error: string | null } => {
    const words: { label: string; hint?: string } = t.form[name];
    return { id: id(name), label: words.label, hint: words.hint, error: message(name) };
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

  const busy = isSubmitting || testing;
  const oauthName = known?.oauth ? PROVIDER_NAME[known.oauth] : "";

  return (
    <form className="flex max-w-[760px] flex-col gap-4" onSubmit={onSave} noValidate aria-label={t.provider.imap.label}>
      <fieldset className="m-0 flex min-w-0 flex-col gap-4 border-0 p-0" disabled={!canEdit}>
        <InputField
          {...frame("address")}
          type="email"
          {...verbatimInput}
          {...register("address", { onChange: (e: { target: { value: string } }) => prefillFromAddress(e.target.value) })}
        />

        {known?.oauth || prefilledFor || known?.appPassword ? (
          <Alert tone="notice" className="gap-1.5">
            {prefilledFor ? <p>{fmt(t.form.prefilled, { provider: prefilledFor })}</p> : null}
            {known?.appPassword ? <p>{fmt(t.form.appPasswordHint, { provider: known.name })}</p> : null}
            {known?.oauth ? (
              <p className="flex flex-wrap items-center justify-between gap-x-3 gap-y-2">
                <span>{fmt(t.form.oauthHint, { provider: oauthName })}</span>
                <Button size="sm" onClick={() => onChooseProvider(known.oauth!)}>
                  {fmt(t.form.useOAuth, { provider: oauthName })}
                </Button>
              </p>
            ) : null}
          </Alert>
        ) : null}

        <div className="flex min-w-0 flex-col gap-1">
          <span id={id("protocol")} className="text-sm font-medium">
            {t.form.protocol.legend}
          </span>
          <Controller
            control={control}
            name="protocol"
            render={({ field }) => (
              <RadioSegmentedGroup
                name={field.name}
                value={field.value ?? "imap"}
                disabled={!canEdit}
                aria-labelledby={id("protocol")}
                onValueChange={(value) => {
                  const p = value as Protocol;
                  field.onChange(p);
                  adjustPort(p, (getValues("tls_mode") ?? "implicit") as TlsMode);
                  const provider = wellKnownProviderFor(getValues("address") ?? "");
                  const host = (getValues("host") ?? "").trim().toLowerCase();
                  if (provider && (!host || WELL_KNOWN_HOSTS.has(host))) {
                    const server = p === "pop3" && provider.pop3 ? provider.pop3 : provider.imap;
                    setValue("host", server.host, { shouldDirty: true });
                  }
                }}
              >
                {(["imap", "pop3"] as const).map((p) => (
                  <RadioSegmentedItem key={p} value={p} ref={p === "imap" ? field.ref : undefined}>
                    {t.form.protocol[p]}
                  </RadioSegmentedItem>
                ))}
              </RadioSegmentedGroup>
            )}
          />
          {protocol === "pop3" ? <p className="text-caption text-muted-foreground">{t.form.protocol.pop3Hint}</p> : null}
        </div>

        <div className={ROW}>
          <InputField
            className={GROW}
            {...frame("host")}
            {...verbatimInput}
            {...register("host", { onChange: () => setPrefilledFor(null) })}
          />
          <InputField
            className={NARROW}
            inputClassName="max-w-40"
            {...frame("port")}
            inputMode="numeric"
            autoComplete="off"
            {...register("port")}
          />
        </div>

        <SelectField
          {...frame("tls_mode")}
          values={TLS_MODES}
          labels={t.form.tls_mode}
          {...register("tls_mode", {
            onChange: (e: { target: { value: string } }) => adjustPort((getValues("protocol") ?? "imap") as Protocol, e.target.value as TlsMode),
          })}
        />
        {tlsMode === "none" ? (
          <Alert as="p" tone="error" role="alert" data-testid="plaintext-warning" className="flex-row items-start gap-2">
            <TriangleAlert aria-hidden="true" className="mt-0.5 size-4 flex-none" />
            <span>{t.form.tls_mode.noneWarning}</span>
          </Alert>
        ) : null}

        <div className={ROW}>
          <InputField
            className={GROW}
            {...frame("username")}
            {...verbatimInput}
            placeholder={address || undefined}
            {...register("username")}
          />
          <SelectField className={GROW} {...frame("auth_method")} values={AUTH_METHODS} labels={t.form.auth_method} {...register("auth_method")} />
        </div>

        <FormField
          id={id("password")}
          label={t.form.password.label}
          hint={passwordAgain ? t.form.password.requiredAgain : hasPassword ? t.form.password.statusSaved : t.form.password.statusNotSaved}
          error={message("password")}
        >
          <div className="flex gap-2">
            <FormControl>
              <Input
                className="flex-1"
                type={showPassword ? "text" : "password"}
                autoComplete="new-password"
                placeholder={hasPassword && !passwordAgain ? t.form.password.savedPlaceholder : undefined}
                aria-required={passwordAgain || !hasPassword}
                {...register("password")}
              />
            </FormControl>
            <Button
              size="icon-lg"
              aria-pressed={showPassword}
              aria-controls={id("password")}
              aria-label={t.form.password.show}
              title={showPassword ? t.form.password.hide : t.form.password.show}
              onClick={() => setShowPassword((v) => !v)}
            >
              {showPassword ? <EyeOff aria-hidden="true" className="size-[18px]" /> : <Eye aria-hidden="true" className="size-[18px]" />}
            </Button>
          </div>
        </FormField>

        {protocol === "imap" ? (
          <>
            <InputField
              {...frame("folder")}
              {...verbatimInput}
              {...register("folder")}
            />
            <ControlledCheckbox control={control} name="use_idle" id={id("use_idle")} label={t.form.use_idle.label} hint={t.form.use_idle.hint} />
          </>
        ) : null}

        {protocol === "pop3" || !useIdle ? (
          <InputField
            {...frame("poll_interval_seconds")}
            inputClassName="max-w-40"
            inputMode="numeric"
            autoComplete="off"
            {...register("poll_interval_seconds")}
          />
        ) : null}

        {protocol === "imap" ? (
          <div className={ROW} data-testid="start-after">
            <SelectField
              className={GROW}
              {...frame("start_mode")}
              hint={config?.started ? t.form.start_mode.started : undefined}
              values={START_MODES}
              labels={t.form.start_mode}
              {...register("start_mode")}
            />
            {startMode === "since" ? (
              <InputField className={GROW} {...frame("start_since")} type="date" {...register("start_since")} />
            ) : null}
            <SelectField className={GROW} {...frame("after_ingest")} values={AFTER_INGEST_MODES} labels={t.form.after_ingest} {...register("after_ingest")} />
            {afterIngest === "move" ? (
              <InputField
                className={GROW}
                {...frame("move_to_folder")}
                autoComplete="off"
                {...register("move_to_folder")}
              />
            ) : null}
          </div>
        ) : null}

        <details className="rounded-md border border-border bg-muted">
          <summary className="rounded-md px-3 py-2.5 text-sm font-medium">{t.form.advanced}</summary>
          <div className="flex flex-col gap-3 px-3 pb-3">
            <ControlledCheckbox control={control} name="enabled" id={id("enabled")} label={t.form.enabled.label} />
            <ControlledCheckbox
              control={control}
              name="allow_invalid_certificate"
              id={id("allow_invalid_certificate")}
              label={t.form.allow_invalid_certificate.label}
              hint={t.form.allow_invalid_certificate.hint}
              disabled={tlsMode === "none"}
            />
            {protocol === "pop3" ? (
              <ControlledCheckbox control={control} name="delete_after_ingest" id={id("delete_after_ingest")} label={t.form.delete_after_ingest.label} />
            ) : null}
          </div>
        </details>
      </fieldset>

      <LiveRegion className="flex flex-col gap-2 empty:hidden">
        {formError ? (
          <Alert as="p" tone="error" role="alert">
            {formError}
          </Alert>
        ) : null}
        {test.kind === "ok" ? (
          <Alert tone="success" data-testid="test-result">
            <p className="flex items-start gap-2">
              <CircleCheck aria-hidden="true" className="mt-0.5 size-4 flex-none" />
              <span>
                {test.protocol === "imap" && test.exists !== null
                  ? plural(locale, t.form.testOk, test.exists, { folder: test.folder, exists: test.exists, unseen: test.unseen ?? 0 })
                  : t.form.testOkPop3}
              </span>
            </p>
            {test.startCounts ? (
              <p data-testid="start-counts">
                {fmt(t.form.startCounts, {
                  unread: test.startCounts.unread,
                  since: test.startCounts.since ?? "–",
                  total: test.startCounts.total,
                })}
              </p>
            ) : null}
          </Alert>
        ) : null}
        {test.kind === "failed" ? (
          <Alert tone="error" data-testid="test-result">
            <AlertTitle>{t.form.testFailed}</AlertTitle>
            <p>{test.text.title}</p>
            <p className="text-foreground">{test.text.advice}</p>
          </Alert>
        ) : null}
      </LiveRegion>

      {canEdit ? (
        <div className="flex flex-wrap justify-end gap-3 max-sm:[&>*]:flex-auto">
          <PendingButton onClick={() => void onTest()} disabled={busy} pending={testing} pendingLabel={t.form.testing}>
            {t.form.test}
          </PendingButton>
          <PendingButton type="submit" variant="default" disabled={busy} pending={isSubmitting} pendingLabel={t.form.saving}>
            {t.form.save}
          </PendingButton>
        </div>
      ) : null}
    </form>
  );
}

const ROW = "flex flex-wrap gap-4";
const TLS_MODES: readonly TlsMode[] = ["implicit", "starttls", "none"];
const AUTH_METHODS = ["password", "app_password"] as const;
const GROW = "flex-[1_1_220px]";
const NARROW = "flex-[0_1_120px]";

type BooleanField = "use_idle" | "enabled" | "allow_invalid_certificate" | "delete_after_ingest";

/** A Radix checkbox bound to one boolean of the form. */
function ControlledCheckbox(props: {
  control: Control<MailboxSettingsInput, unknown, MailboxSettings>;
  name: BooleanField;
  id: string;
  label: string;
  hint?: string;
  disabled?: boolean;
}): ReactElement {
  return (
    <Controller
      control={props.control}
      name={props.name}
      render={({ field }) => (
        <CheckboxField
          id={props.id}
          label={props.label}
          hint={props.hint}
          name={field.name}
          ref={field.ref}
          checked={Boolean(field.value)}
          onCheckedChange={(checked) => field.onChange(checked === true)}
          onBlur={field.onBlur}
          disabled={props.disabled}
        />
      )}
    />
  );
}
