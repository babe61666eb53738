"use client";

import { fmt } from "@/lib/i18n";
import type { SenderAuth } from "./forwarding-api";
import { useI18n } from "./i18n-provider";

const CHECKS = ["spf", "dkim", "dmarc", "arc"] as const;

/** SPF / DKIM / DMARC / ARC of a message received through a forwarding address. */
export function SenderAuthBadges({ auth }: { auth: SenderAuth | null | undefined }) {
  const { t } = useI18n();
  if (!auth) return null;
  const label = (result: string): string =>
    result === "pass" ? t.senderAuth.pass : result === "fail" ? t.senderAuth.fail : result === "none" ? t.senderAuth.none : fmt(t.senderAuth.other, { result });
  return (
    <div className="sender-auth" data-testid="sender-auth">
      <h3 className="section-title">{t.senderAuth.heading}</h3>
      <ul className="sender-auth-list">
        {CHECKS.map((check) => (
          <li key={check} data-check={check} data-result={auth[check]} className={`badge badge-${auth[check] === "pass" ? "success" : auth[check] === "fail" ? "error" : "neutral"}`}>
            {check.toUpperCase()}={auth[check]} <span className="visually-hidden">({label(auth[check])})</span>
          </li>
        ))}
      </ul>
      {auth.dkim_domains.length ? <p className="muted">{fmt(t.senderAuth.signedBy, { domains: auth.dkim_domains.join(", ") })}</p> : null}
    </div>
  );
}
