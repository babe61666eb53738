"use client";

/**
 * <OAuthConnect> — "Connect with Google / Microsoft" for one mailbox (booking or stop-sale).
 *
 * Props (stable; all but `emailType` optional):
 * - emailType: "booking" | "stopsale"   which mailbox this control connects.
 * - provider?: "google" | "microsoft"   only this provider's button (and the one a connected mailbox
 *                                       is disconnected from). Omit to offer both buttons.
 * - connectedEmail?: string | null      the address connected now (MailboxConfig.oauth.connected_email
 *                                       when oauth.is_connected); shows it with Reconnect / Disconnect.
 * - onChange?: () => void               called after a connect or disconnect: reload settings + health.
 * - access?: "api" | "imap"             how the mailbox will be read: the provider's API (default) or
 *                                       IMAP with XOAUTH2. Decides the scopes asked for.
 * - needsReauth?: boolean               the health says needs_reauth: ask to reconnect.
 * - canEdit?: boolean                   false for viewers: buttons are disabled. Default true.
 * - locale?: "en" | "tr"                ignored (kept so older call sites compile): the language is the
 *                                       page's, from <I18nProvider>.
 *
 * Connect opens the provider in a popup (`window.open(url, "mailbox-oauth", "width=520,height=680")`);
 * the callback page posts the result back (origin-checked) and closes. If the popup is blocked the
 * whole page goes to the provider and comes back to /settings/email?oauth=success|error&... with
 * the outcome in a cookie set by our callback, which this component reads (for its own emailType)
 * and then removes. A page
 * that does not keep this component mounted at that moment can read it with useOAuthRedirectResult().
 */

import { useCallback, useEffect, useId, useRef, useState, type ReactElement } from "react";
import { fmt } from "@/lib/i18n";
import { OAUTH_RESULT_COOKIE, OAUTH_RESULT_COOKIE_PATH, decodeOAuthResult } from "@/lib/oauth/result-cookie";
import { ConfirmDialog } from "./confirm-dialog";
import { apiFetch, ApiError, type EmailType } from "./email-api";
import { describeApiError } from "./error-text";
import { useI18n } from "./i18n-provider";
import { PROVIDER_NAME, type OAuthProvider } from "./provider-select";
import { Alert, LiveNotice } from "./ui/alert";
import { Button, PendingButton } from "./ui/button";
import { InputField } from "./ui/form-field";
import { verbatimInput } from "./ui/input";

export type OAuthConnectProps = {
  emailType: EmailType;
  provider?: OAuthProvider | null;
  connectedEmail?: string | null;
  onChange?: () => void;
  access?: "api" | "imap";
  needsReauth?: boolean;
  canEdit?: boolean;
  locale?: "en" | "tr";
};

const POPUP_NAME = "mailbox-oauth";
const POPUP_FEATURES = "width=520,height=680";
const MESSAGE_TYPE = "mailbox-oauth";
const CHANNEL = "mailbox-oauth";
type ResultMessage = {
  type: typeof MESSAGE_TYPE;
  id?: string;
  success: boolean;
  message: string;
  connected_email: string | null;
  email_type: string | null;
  provider?: string;
  /** Sent by callbacks that know it: translated by code. */
  code?: string;
};

function isResultMessage(data: unknown): data is ResultMessage {
  if (typeof data !== "object" || data === null) return false;
  const d = data as Record<string, unknown>;
  return (
    d.type === MESSAGE_TYPE &&
    typeof d.success === "boolean" &&
    typeof d.message === "string" &&
    (d.connected_email === null || typeof d.connected_email === "string")
  );
}

function isProvider(value: unknown): value is OAuthProvider {
  return value === "google" || value === "microsoft";
}

export type OAuthRedirectResult = {
  success: boolean;
  message: string;
  connectedEmail: string | null;
  provider: OAuthProvider | null;
};

const REDIRECT_PARAMS = ["oauth", "provider", "message", "email_type", "connected_email"] as const;

function readCookie(name: string): string | null {
  for (const part of document.cookie.split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/**
 * After the full-page flow (popup blocked) the callback sends the browser to
 * /settings/email?oauth=success|error&email_type=... with the outcome in a short-lived cookie it
 * set (lib/oauth/result-cookie.ts). This hook hands that outcome for `emailType` to `onResult`
 * once, then removes the cookie and the parameters. The query's own words are never shown: a link
 * anyone can craft has no cookie behind it, so it shows nothing.
 * <OAuthConnect> uses it; a page that does not keep <OAuthConnect> mounted (e.g. a collapsed card)
 * can call it itself to show the outcome.
 */
export function useOAuthRedirectResult(emailType: EmailType, onResult: (result: OAuthRedirectResult) => void): void {
  const onResultRef = useRef(onResult);
  useEffect(() => {
    onResultRef.current = onResult;
  }, [onResult]);
  useEffect(() => {
    const url = new URL(window.location.href);
    const outcome = url.searchParams.get("oauth");
    if ((outcome !== "success" && outcome !== "error") || url.searchParams.get("email_type") !== emailType) return;
    const result = decodeOAuthResult(readCookie(OAUTH_RESULT_COOKIE));
    if (result && result.email_type === emailType) {
      document.cookie = `${OAUTH_RESULT_COOKIE}=; Path=${OAUTH_RESULT_COOKIE_PATH}; Max-Age=0; SameSite=Lax`;
      onResultRef.current({
        success: result.success,
        message: result.message,
        connectedEmail: result.connected_email,
        provider: isProvider(result.provider) ? result.provider : null,
      });
    }
    for (const key of REDIRECT_PARAMS) url.searchParams.delete(key);
    window.history.replaceState(window.history.state, "", `${url.pathname}${url.search}${url.hash}`);
  }, [emailType]);
}

export function OAuthConnect({
  emailType,
  provider,
  connectedEmail,
  onChange,
  access = "api",
  needsReauth = false,
  canEdit = true,
}: OAuthConnectProps): ReactElement {
  const { t: dict, locale } = useI18n();
  const t = dict.oauth;
  const ids = useId();
  const providers: OAuthProvider[] = provider ? [provider] : ["google", "microsoft"];

  const [pending, setPending] = useState<OAuthProvider | null>(null);
  const [notice, setNotice] = useState<{ kind: "success" | "error"; text: string } | null>(null);
  // What this component learnt itself (a connect or disconnect); undefined = show what the parent says.
  const [local, setConnected] = useState<{ email: string; provider: OAuthProvider | null } | null | undefined>(undefined);
  // A new value from the parent (it reloaded the settings) is the source of truth again.
  const [shownProp, setShownProp] = useState(connectedEmail);
  if (shownProp !== connectedEmail) {
    setShownProp(connectedEmail);
    setConnected(undefined);
  }
  const connected = local !== undefined ? local : connectedEmail ? { email: connectedEmail, provider: provider ?? null } : null;
  const [confirmOpen, setConfirmOpen] = useState(false);
  const [ownApp, setOwnApp] = useState({ clientId: "", clientSecret: "", tenantId: "" });

  const popupRef = useRef<Window | null>(null);
  const pollRef = useRef<number | undefined>(undefined);
  const seen = useRef(new Set<string>());
  const pendingRef = useRef<OAuthProvider | null>(null);
  const onChangeRef = useRef(onChange);
  useEffect(() => {
    onChangeRef.current = onChange;
  }, [onChange]);

  /**
   * A failure in the page's language: the server's code decides (a mail or HTTP error it knows), its
   * English sentence is shown only in English, and anything else is "could not be started".
   */
  const describeFailure = useCallback(
    (err: unknown): string => {
      return describeApiError(dict, locale, err, t.failed);
    },
    [dict, locale, t],
  );

  const stopWaiting = useCallback(() => {
    window.clearInterval(pollRef.current);
    pollRef.current = undefined;
    popupRef.current = null;
    pendingRef.current = null;
    setPending(null);
  }, []);

  const applyResult = useCallback(
    (msg: ResultMessage) => {
      if (msg.email_type !== emailType) return;
      if (msg.id) {
        if (seen.current.has(msg.id)) return;
        seen.current.add(msg.id);
      }
      // Another tab's failed attempt is not this page's business; a success is (the mailbox changed).
      if (!msg.success && pendingRef.current === null) return;
      const from = isProvider(msg.provider) ? msg.provider : pendingRef.current;
      stopWaiting();
      if (msg.success && msg.connected_email) {
        setConnected({ email: msg.connected_email, provider: from });
        setNotice({ kind: "success", text: fmt(t.connected, { email: msg.connected_email, provider: from ? PROVIDER_NAME[from] : "OAuth" }) });
        onChangeRef.current?.();
      } else {
        setNotice({ kind: "error", text: describeFailure(new ApiError(400, msg.code ?? "oauth_failed", msg.message)) });
      }
    },
    [emailType, stopWaiting, t, describeFailure],
  );

  // Results from the popup (postMessage, exact origin) or, if its opener link was cut, a BroadcastChannel.
  useEffect(() => {
    const onMessage = (event: MessageEvent): void => {
      if (event.origin !== window.location.origin) return;
      if (isResultMessage(event.data)) applyResult(event.data);
    };
    window.addEventListener("message", onMessage);
    let channel: BroadcastChannel | null = null;
    try {
      channel = new BroadcastChannel(CHANNEL);
      channel.onmessage = (event: MessageEvent) => {
        if (isResultMessage(event.data)) applyResult(event.data);
      };
    } catch {
      channel = null;
    }
    return () => {
      window.removeEventListener("message", onMessage);
      channel?.close();
    };
  }, [applyResult]);

  // Back from a full-page redirect (popup blocked): the outcome is in the callback's cookie.
  useOAuthRedirectResult(emailType, (result) => {
    if (result.success && result.connectedEmail) {
      setConnected({ email: result.connectedEmail, provider: result.provider });
      setNotice({
        kind: "success",
        text: fmt(t.connected, { email: result.connectedEmail, provider: result.provider ? PROVIDER_NAME[result.provider] : "OAuth" }),
      });
      onChangeRef.current?.();
    } else {
      setNotice({ kind: "error", text: describeFailure(new ApiError(400, "oauth_failed", result.message)) });
    }
  });

  useEffect(() => () => window.clearInterval(pollRef.current), []);

  const connect = async (p: OAuthProvider): Promise<void> => {
    setNotice(null);
    // Opened now, inside the click, so popup blockers allow it; it is sent to the provider below.
    let popup: Window | null;
    try {
      popup = window.open("", POPUP_NAME, POPUP_FEATURES);
    } catch {
      popup = null;
    }
    pendingRef.current = p;
    setPending(p);
    const body: Record<string, string> = { email_type: emailType, access };
    if (ownApp.clientId.trim()) {
      body.client_id = ownApp.clientId.trim();
      if (ownApp.clientSecret) body.client_secret = ownApp.clientSecret;
    }
    if (p === "microsoft" && ownApp.tenantId.trim()) body.tenant_id = ownApp.tenantId.trim();

    let authorizationUrl: string;
    try {
      const data = await apiFetch<{ authorization_url?: unknown }>(`/api/oauth/${p}/authorize`, { method: "POST", body });
      if (typeof data?.authorization_url !== "string") throw new ApiError(200, "bad_response", "");
      authorizationUrl = data.authorization_url;
    } catch (err) {
      popup?.close();
      stopWaiting();
      setNotice({ kind: "error", text: describeFailure(err) });
      return;
    }
    setOwnApp((v) => ({ ...v, clientSecret: "" }));

    if (!popup || popup.closed) {
      // Popup blocked: the whole page goes to the provider and comes back to the settings page.
      window.location.assign(authorizationUrl);
      return;
    }
    popup.location.href = authorizationUrl;
    popup.focus();
    popupRef.current = popup;
    window.clearInterval(pollRef.current);
    pollRef.current = window.setInterval(() => {
      if (!popupRef.current?.closed) return;
      // Give a result posted just before closing a moment to arrive.
      window.setTimeout(() => {
        if (pendingRef.current === null) return;
        stopWaiting();
        setNotice({ kind: "error", text: t.popupClosed });
      }, 400);
      window.clearInterval(pollRef.current);
    }, 500);
  };

  /** Throws on failure: the confirm dialog stays open and shows why. */
  const disconnect = async (): Promise<void> => {
    const p = connected?.provider ?? provider;
    if (!p) return;
    await apiFetch<unknown>(`/api/oauth/${p}/disconnect?email_type=${emailType}`, { method: "DELETE" });
    setConnected(null);
    setNotice({ kind: "success", text: t.disconnected });
    onChangeRef.current?.();
  };

  const connectedProvider = connected?.provider ?? provider ?? null;
  const showOwnApp = canEdit && !connected;

  return (
    <div className="flex max-w-[760px] flex-col gap-3" data-email-type={emailType}>
      <LiveNotice regionClassName="empty:hidden" tone={notice?.kind === "error" ? "error" : "success"} role={notice?.kind === "error" ? "alert" : "status"}>
        {notice?.text}
      </LiveNotice>

      {needsReauth && connectedProvider ? (
        <Alert as="p" tone="error" role="alert">
          {fmt(t.needsReauth, { provider: PROVIDER_NAME[connectedProvider] })}
        </Alert>
      ) : null}

      {connected ? (
        <p data-testid={`oauth-connected-${emailType}`}>
          <span className="text-muted-foreground">{t.connectedAs}</span> <strong>{connected.email}</strong>
          {connectedProvider ? <span className="text-muted-foreground"> {fmt(t.connectedVia, { provider: PROVIDER_NAME[connectedProvider] })}</span> : null}
        </p>
      ) : null}

      <div className="flex flex-wrap gap-3">
        {providers.map((p) => (
          <PendingButton
            key={p}
            variant={connected ? "outline" : "default"}
            data-provider={p}
            disabled={!canEdit || pending !== null}
            pending={pending === p}
            pendingLabel={fmt(t.connecting, { provider: PROVIDER_NAME[p] })}
            onClick={() => void connect(p)}
          >
            {fmt(connected || needsReauth ? t.reconnect : t.connect, { provider: PROVIDER_NAME[p] })}
          </PendingButton>
        ))}
        {connected && connectedProvider && canEdit ? (
          <Button variant="destructive-outline" onClick={() => setConfirmOpen(true)} disabled={pending !== null}>
            {t.disconnect}
          </Button>
        ) : null}
      </div>

      {showOwnApp ? (
        <details className="group rounded-md border border-border bg-muted px-3 text-sm open:pb-3">
          <summary className="py-2.5 font-medium">{t.ownApp}</summary>
          <div className="flex flex-col gap-3">
            <p className="text-muted-foreground">{t.ownAppHint}</p>
            <InputField
              id={`${ids}-client-id`}
              label={t.clientId}
              {...verbatimInput}
              value={ownApp.clientId}
              onChange={(e) => setOwnApp((v) => ({ ...v, clientId: e.target.value }))}
            />
            <InputField
              id={`${ids}-client-secret`}
              label={t.clientSecret}
              hint={t.clientSecretHint}
              type="password"
              autoComplete="new-password"
              value={ownApp.clientSecret}
              onChange={(e) => setOwnApp((v) => ({ ...v, clientSecret: e.target.value }))}
            />
            {providers.includes("microsoft") ? (
              <InputField
                id={`${ids}-tenant-id`}
                label={t.tenantId}
                hint={t.tenantIdHint}
                {...verbatimInput}
                value={ownApp.tenantId}
                onChange={(e) => setOwnApp((v) => ({ ...v, tenantId: e.target.value }))}
              />
            ) : null}
          </div>
        </details>
      ) : null}

      <ConfirmDialog
        open={confirmOpen}
        onOpenChange={setConfirmOpen}
        title={t.disconnectTitle}
        description={
          connected && connectedProvider ? (
            <p>{fmt(t.disconnectBody, { email: connected.email, provider: PROVIDER_NAME[connectedProvider] })}</p>
          ) : null
        }
        confirmLabel={t.disconnect}
        pendingLabel={t.disconnecting}
        destructive
        onConfirm={disconnect}
        describeError={describeFailure}
      />
    </div>
  );
}
