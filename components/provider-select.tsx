"use client";

import { useId } from "react";
import type { Provider } from "./email-api";
import { useI18n } from "./i18n-provider";

type ProviderSelectProps = {
  name: string;
  value: Provider | null;
  onChange: (provider: Provider) => void;
  disabled?: boolean;
};

const PROVIDERS: readonly Provider[] = ["google", "microsoft", "imap", "forwarding"];

/** Three large radio cards: Google, Microsoft, or any other server over IMAP/POP3. */
export function ProviderSelect({ name, value, onChange, disabled }: ProviderSelectProps) {
  const { t } = useI18n();
  const uid = useId();
  return (
    <fieldset className="provider-select" disabled={disabled}>
      <legend className="field-label">{t.provider.legend}</legend>
      <div className="provider-options">
        {PROVIDERS.map((p) => (
          <label key={p} className="provider-option" data-provider={p}>
            <input
              type="radio"
              className="visually-hidden"
              name={name}
              value={p}
              checked={value === p}
              onChange={() => onChange(p)}
              aria-labelledby={`${name}-${p}-name${uid}`}
              aria-describedby={`${name}-${p}-hint${uid}`}
            />
            <ProviderIcon provider={p} />
            <span className="provider-text">
              <span className="provider-name" id={`${name}-${p}-name${uid}`}>
                {t.provider[p].label}
              </span>
              <span className="provider-hint" id={`${name}-${p}-hint${uid}`}>
                {t.provider[p].hint}
              </span>
            </span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}

export function ProviderIcon({ provider }: { provider: Provider }) {
  if (provider === "google") {
    return (
      <svg className="provider-icon" viewBox="0 0 48 48" aria-hidden="true" focusable="false">
        <path fill="#EA4335" d="M24 9.5c3.54 0 6.71 1.22 9.21 3.6l6.85-6.85C35.9 2.38 30.47 0 24 0 14.62 0 6.51 5.38 2.56 13.22l7.98 6.19C12.43 13.72 17.74 9.5 24 9.5z" />
        <path fill="#4285F4" d="M46.98 24.55c0-1.57-.15-3.09-.38-4.55H24v9.02h12.94c-.58 2.96-2.26 5.48-4.78 7.18l7.73 6c4.51-4.18 7.09-10.36 7.09-17.65z" />
        <path fill="#FBBC05" d="M10.53 28.59c-.48-1.45-.76-2.99-.76-4.59s.27-3.14.76-4.59l-7.98-6.19C.92 16.46 0 20.12 0 24c0 3.88.92 7.54 2.56 10.78l7.97-6.19z" />
        <path fill="#34A853" d="M24 48c6.48 0 11.93-2.13 15.89-5.81l-7.73-6c-2.15 1.45-4.92 2.3-8.16 2.3-6.26 0-11.57-4.22-13.47-9.91l-7.98 6.19C6.51 42.62 14.62 48 24 48z" />
      </svg>
    );
  }
  if (provider === "microsoft") {
    return (
      <svg className="provider-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
        <rect x="1" y="1" width="10.5" height="10.5" fill="#F25022" />
        <rect x="12.5" y="1" width="10.5" height="10.5" fill="#7FBA00" />
        <rect x="1" y="12.5" width="10.5" height="10.5" fill="#00A4EF" />
        <rect x="12.5" y="12.5" width="10.5" height="10.5" fill="#FFB900" />
      </svg>
    );
  }
  return (
    <svg className="provider-icon provider-icon-mail" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <rect x="2.5" y="5" width="19" height="14" rx="2" fill="none" stroke="currentColor" strokeWidth="1.8" />
      <path d="M3.5 6.5 12 13l8.5-6.5" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinejoin="round" />
    </svg>
  );
}
