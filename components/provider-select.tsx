"use client";

import { Mail } from "lucide-react";
import { useId, type ReactElement } from "react";
import type { Provider } from "./email-api";
import { useI18n } from "./i18n-provider";
import { cn } from "./ui/cn";
import { RadioCard, RadioGroup } from "./ui/radio-group";

type ProviderSelectProps = {
  name: string;
  value: Provider | null;
  onChange: (provider: Provider) => void;
  disabled?: boolean;
};

export type OAuthProvider = "google" | "microsoft";

/** The providers' own names (brands, never translated): the one map every component uses. */
export const PROVIDER_NAME: Record<OAuthProvider, string> = { google: "Google", microsoft: "Microsoft" };

const PROVIDERS: readonly Provider[] = ["google", "microsoft", "imap", "forwarding"];

/** Three large radio cards: Google, Microsoft, or any other server over IMAP/POP3. */
export function ProviderSelect({ name, value, onChange, disabled }: ProviderSelectProps): ReactElement {
  const { t } = useI18n();
  const uid = useId();
  const legendId = `${name}-legend${uid}`;
  return (
    <div className="flex min-w-0 flex-col gap-2">
      <span id={legendId} className="text-sm font-medium">
        {t.provider.legend}
      </span>
      <RadioGroup
        name={name}
        value={value ?? ""}
        onValueChange={(v) => onChange(v as Provider)}
        disabled={disabled}
        aria-labelledby={legendId}
        className="grid-cols-1 gap-2 sm:grid-cols-3 sm:gap-3"
      >
        {PROVIDERS.map((p) => (
          <RadioCard
            key={p}
            value={p}
            data-provider={p}
            aria-labelledby={`${name}-${p}-name${uid}`}
            aria-describedby={`${name}-${p}-hint${uid}`}
          >
            <ProviderIcon provider={p} />
            <span className="flex min-w-0 flex-col">
              <span className="font-semibold" id={`${name}-${p}-name${uid}`}>
                {t.provider[p].label}
              </span>
              <span className="text-caption leading-snug text-muted-foreground" id={`${name}-${p}-hint${uid}`}>
                {t.provider[p].hint}
              </span>
            </span>
          </RadioCard>
        ))}
      </RadioGroup>
    </div>
  );
}

export function ProviderIcon({ provider, className }: { provider: Provider; className?: string }): ReactElement {
  const cls = cn("size-6 shrink-0", className);
  if (provider === "google") {
    return (
      <svg className={cls} viewBox="0 0 48 48" aria-hidden="true" focusable="false">
        <path fill="#EA4335" d="M24 9.5c3.54 0 6.71 1.22 9.21 3.6l6.85-6.85C35.9 2.38 30.47 0 24 0 14.62 0 6.51 5.38 2.56 13.22l7.98 6.19C12.43 13.72 17.74 9.5 24 9.5z" />
        <path fill="#4285F4" d="M46.98 24.55c0-1.57-.15-3.09-.38-4.55H24v9.02h12.94c-.58 2.96-2.26 5.48-4.78 7.18l7.73 6c4.51-4.18 7.09-10.36 7.09-17.65z" />
        <path fill="#FBBC05" d="M10.53 28.59c-.48-1.45-.76-2.99-.76-4.59s.27-3.14.76-4.59l-7.98-6.19C.92 16.46 0 20.12 0 24c0 3.88.92 7.54 2.56 10.78l7.97-6.19z" />
        <path fill="#34A853" d="M24 48c6.48 0 11.93-2.13 15.89-5.81l-7.73-6c-2.15 1.45-4.92 2.3-8.16 2.3-6.26 0-11.57-4.22-13.47-9.91l-7.98 6.19C6.51 42.62 14.62 48 24 48z" />
      </svg>
    );
  }
  if (provider === "microsoft") {
    return (
      <svg className={cls} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
        <rect x="1" y="1" width="10.5" height="10.5" fill="#F25022" />
        <rect x="12.5" y="1" width="10.5" height="10.5" fill="#7FBA00" />
        <rect x="1" y="12.5" width="10.5" height="10.5" fill="#00A4EF" />
        <rect x="12.5" y="12.5" width="10.5" height="10.5" fill="#FFB900" />
      </svg>
    );
  }
  return <Mail className={cn(cls, "text-muted-foreground")} aria-hidden="true" focusable="false" strokeWidth={1.8} />;
}
