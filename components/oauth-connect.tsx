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
 * - locale?: "en" | "tr"                UI language. Default "en".
 *
 * Connect opens the provider in a popup (`window.open(url, "mailbox-oauth", "width=520,height=680")`);
 * the callback page posts the result back (origin-checked) and closes. If the popup is blocked the
 * whole page goes to the provider and comes back to /settings/email?oauth=success|error&... with
 * the outcome in a cookie set by our callback, which this component reads (for its own emailType)
 * and then removes. A page
 * that does not keep this component mounted at that moment can read it with useOAuthRedirectResult().
 */

import * as Dialog from "@radix-ui/react-dialog";
import { useCallback, useEffect, useId, useRef, useState } from "react";
import { OAUTH_RESULT_COOKIE, OAUTH_RESULT_COOKIE_PATH, decodeOAuthResult } from "@/lib/oauth/result-cookie";

type EmailType = "booking" | "stopsale";
type OAuthProvider = "google" | "microsoft";

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
const LABEL: Record<OAuthProvider, string> = { google: "Google", microsoft: "Microsoft" };

const TEXT = {
  en: {
    connect: (p: string) => `Connect with ${p}`,
    reconnect: (p: string) => `Reconnect with ${p}`,
    connecting: (p: string) => `Waiting for ${p}…`,
    connectedAs: "Connected as",
    connectedVia: (p: string) => `via ${p}`,
    connected: (email: string, p: string) => `Connected ${email} with ${p}.`,
    needsReauth: (p: string) => `Access to this mailbox has expired or was revoked. Reconnect with ${p}.`,
    popupClosed: "The sign-in window was closed before it finished. Nothing was changed.",
    network: "Could not reach the server. Check your connection and try again.",
    failed: "The connection could not be started.",
    disconnect: "Disconnect",
    disconnecting: "Disconnecting…",
    disconnectTitle: "Disconnect this mailbox?",
    disconnectBody: (email: string, p: string) =>
      `${email} will no longer be watched. Access granted to this app at ${p} is revoked where ${p} allows it. Messages already received are kept.`,
    disconnected: "The mailbox was disconnected.",
    cancel: "Cancel",
    ownApp: "Use your organization's own app registration",
    ownAppHint: "Only if your Google Workspace or Microsoft Entra administrator requires it. Leave empty to use this service's app.",
    clientId: "Client ID",
    clientSecret: "Client secret",
    clientSecretHint: "Stored encrypted and never shown again. Leave empty to keep the saved one.",
    tenantId: "Microsoft tenant ID",
    tenantIdHint: "A GUID or domain; empty uses “common”.",
  },
  tr: {
    connect: (p: string) => `${p} ile bağlan`,
    reconnect: (p: string) => `${p} ile yeniden bağlan`,
    connecting: (p: string) => `${p} bekleniyor…`,
    connectedAs: "Bağlı hesap:",
    connectedVia: (p: string) => `(${p})`,
    connected: (email: string, p: string) => `${email}, ${p} ile bağlandı.`,
    needsReauth: (p: string) => `Bu posta kutusuna erişimin süresi doldu veya erişim geri alındı. ${p} ile yeniden bağlanın.`,
    popupClosed: "Oturum açma penceresi işlem bitmeden kapatıldı. Hiçbir şey değiştirilmedi.",
    network: "Sunucuya ulaşılamadı. Bağlantınızı kontrol edip tekrar deneyin.",
    failed: "Bağlantı başlatılamadı.",
    disconnect: "Bağlantıyı kes",
    disconnecting: "Bağlantı kesiliyor…",
    disconnectTitle: "Bu posta kutusunun bağlantısı kesilsin mi?",
    disconnectBody: (email: string, p: string) =>
      `${email} artık izlenmeyecek. ${p} bu uygulamaya verilen erişimi, izin verdiği durumlarda geri alır. Gelmiş e-postalar saklanır.`,
    disconnected: "Posta kutusunun bağlantısı kesildi.",
    cancel: "Vazgeç",
    ownApp: "Kuruluşunuzun kendi uygulama kaydını kullanın",
    ownAppHint: "Yalnızca Google Workspace veya Microsoft Entra yöneticiniz gerektiriyorsa. Boş bırakırsanız bu hizmetin uygulaması kullanılır.",
    clientId: "İstemci kimliği (Client ID)",
    clientSecret: "İstemci parolası (Client secret)",
    clientSecretHint: "Şifreli saklanır ve bir daha gösterilmez. Kayıtlı olanı korumak için boş bırakın.",
    tenantId: "Microsoft kiracı kimliği (Tenant ID)",
    tenantIdHint: "GUID veya alan adı; boşsa “common” kullanılır.",
  },
} as const;

type ResultMessage = {
  type: typeof MESSAGE_TYPE;
  id?: string;
  success: boolean;
  message: string;
  connected_email: string | null;
  email_type: string | null;
  provider?: string;
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

async function errorMessageOf(res: Response, fallback: string): Promise<string> {
  try {
    const body = (await res.json()) as { error?: { message?: unknown } };
    return typeof body.error?.message === "string" ? body.error.message : fallback;
  } catch {
    return fallback;
  }
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
  locale = "en",
}: OAuthConnectProps) {
  const t = TEXT[locale];
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
  const [disconnecting, setDisconnecting] = useState(false);
  const [disconnectError, setDisconnectError] = useState<string | null>(null);
  const [ownApp, setOwnApp] = useState({ clientId: "", clientSecret: "", tenantId: "" });

  const popupRef = useRef<Window | null>(null);
  const pollRef = useRef<number | undefined>(undefined);
  const seen = useRef(new Set<string>());
  const pendingRef = useRef<OAuthProvider | null>(null);
  const onChangeRef = useRef(onChange);
  useEffect(() => {
    onChangeRef.current = onChange;
  }, [onChange]);

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
        setNotice({ kind: "success", text: t.connected(msg.connected_email, from ? LABEL[from] : "OAuth") });
        onChangeRef.current?.();
      } else {
        setNotice({ kind: "error", text: msg.message });
      }
    },
    [emailType, stopWaiting, t],
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
      setNotice({ kind: "success", text: t.connected(result.connectedEmail, result.provider ? LABEL[result.provider] : "OAuth") });
      onChangeRef.current?.();
    } else {
      setNotice({ kind: "error", text: result.message || t.failed });
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
      const res = await fetch(`/api/oauth/${p}/authorize`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(await errorMessageOf(res, t.failed));
      const data = (await res.json()) as { authorization_url?: unknown };
      if (typeof data.authorization_url !== "string") throw new Error(t.failed);
      authorizationUrl = data.authorization_url;
    } catch (err) {
      popup?.close();
      stopWaiting();
      setNotice({ kind: "error", text: err instanceof TypeError ? t.network : err instanceof Error ? err.message : t.failed });
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

  const disconnect = async (): Promise<void> => {
    const p = connected?.provider ?? provider;
    if (!p) return;
    setDisconnecting(true);
    setDisconnectError(null);
    try {
      const res = await fetch(`/api/oauth/${p}/disconnect?email_type=${emailType}`, {
        method: "DELETE",
        headers: { accept: "application/json" },
      });
      if (!res.ok) throw new Error(await errorMessageOf(res, t.failed));
      setConfirmOpen(false);
      setConnected(null);
      setNotice({ kind: "success", text: t.disconnected });
      onChangeRef.current?.();
    } catch (err) {
      setDisconnectError(err instanceof TypeError ? t.network : err instanceof Error ? err.message : t.failed);
    } finally {
      setDisconnecting(false);
    }
  };

  const connectedProvider = connected?.provider ?? provider ?? null;
  const showOwnApp = canEdit && !connected;

  return (
    <div className="oauth-connect" data-email-type={emailType}>
      <div aria-live="polite">
        {notice ? (
          <p className={notice.kind === "success" ? "alert alert-success" : "alert alert-error"} role={notice.kind === "error" ? "alert" : "status"}>
            {notice.text}
          </p>
        ) : null}
      </div>

      {needsReauth && connectedProvider ? (
        <p className="alert alert-error" role="alert">
          {t.needsReauth(LABEL[connectedProvider])}
        </p>
      ) : null}

      {connected ? (
        <p className="oauth-connected" data-testid={`oauth-connected-${emailType}`}>
          <span className="muted">{t.connectedAs}</span> <strong>{connected.email}</strong>
          {connectedProvider ? <span className="muted"> {t.connectedVia(LABEL[connectedProvider])}</span> : null}
        </p>
      ) : null}

      <div className="oauth-actions">
        {providers.map((p) => (
          <button
            key={p}
            type="button"
            className={connected ? "button" : "button button-primary"}
            data-provider={p}
            disabled={!canEdit || pending !== null}
            aria-busy={pending === p}
            onClick={() => void connect(p)}
          >
            {pending === p ? t.connecting(LABEL[p]) : connected || needsReauth ? t.reconnect(LABEL[p]) : t.connect(LABEL[p])}
          </button>
        ))}
        {connected && connectedProvider && canEdit ? (
          <button type="button" className="button button-danger-outline" onClick={() => setConfirmOpen(true)} disabled={pending !== null}>
            {t.disconnect}
          </button>
        ) : null}
      </div>

      {showOwnApp ? (
        <details className="oauth-own-app">
          <summary>{t.ownApp}</summary>
          <p className="muted">{t.ownAppHint}</p>
          <div className="field">
            <label htmlFor={`${ids}-client-id`}>{t.clientId}</label>
            <input
              id={`${ids}-client-id`}
              className="input"
              autoComplete="off"
              spellCheck={false}
              value={ownApp.clientId}
              onChange={(e) => setOwnApp((v) => ({ ...v, clientId: e.target.value }))}
            />
          </div>
          <div className="field">
            <label htmlFor={`${ids}-client-secret`}>{t.clientSecret}</label>
            <input
              id={`${ids}-client-secret`}
              className="input"
              type="password"
              autoComplete="new-password"
              value={ownApp.clientSecret}
              aria-describedby={`${ids}-client-secret-hint`}
              onChange={(e) => setOwnApp((v) => ({ ...v, clientSecret: e.target.value }))}
            />
            <span id={`${ids}-client-secret-hint`} className="muted">
              {t.clientSecretHint}
            </span>
          </div>
          {providers.includes("microsoft") ? (
            <div className="field">
              <label htmlFor={`${ids}-tenant-id`}>{t.tenantId}</label>
              <input
                id={`${ids}-tenant-id`}
                className="input"
                autoComplete="off"
                spellCheck={false}
                value={ownApp.tenantId}
                aria-describedby={`${ids}-tenant-id-hint`}
                onChange={(e) => setOwnApp((v) => ({ ...v, tenantId: e.target.value }))}
              />
              <span id={`${ids}-tenant-id-hint`} className="muted">
                {t.tenantIdHint}
              </span>
            </div>
          ) : null}
        </details>
      ) : null}

      <Dialog.Root
        open={confirmOpen}
        onOpenChange={(open) => {
          if (disconnecting) return;
          if (!open) setDisconnectError(null);
          setConfirmOpen(open);
        }}
      >
        <Dialog.Portal>
          <Dialog.Overlay className="dialog-overlay" />
          <Dialog.Content className="dialog dialog-small" role="alertdialog">
            <Dialog.Title className="dialog-title">{t.disconnectTitle}</Dialog.Title>
            <Dialog.Description className="dialog-description">
              {connected && connectedProvider ? t.disconnectBody(connected.email, LABEL[connectedProvider]) : null}
            </Dialog.Description>
            {disconnectError ? (
              <p className="alert alert-error" role="alert">
                {disconnectError}
              </p>
            ) : null}
            <div className="dialog-actions">
              <Dialog.Close asChild>
                <button type="button" className="button" disabled={disconnecting} autoFocus>
                  {t.cancel}
                </button>
              </Dialog.Close>
              <button
                type="button"
                className="button button-danger"
                onClick={() => void disconnect()}
                disabled={disconnecting}
                aria-busy={disconnecting}
              >
                {disconnecting ? t.disconnecting : t.disconnect}
              </button>
            </div>
          </Dialog.Content>
        </Dialog.Portal>
      </Dialog.Root>
    </div>
  );
}
