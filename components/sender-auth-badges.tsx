"use client";

import { Check, Minus, X } from "lucide-react";
import type { ReactElement } from "react";
import { fmt } from "@/lib/i18n";
import type { SenderAuth } from "./forwarding-api";
import { useI18n } from "./i18n-provider";
import { Badge } from "./ui/badge";
import { SectionTitle } from "./ui/card";

const CHECKS = ["spf", "dkim", "dmarc", "arc"] as const;

/** SPF / DKIM / DMARC / ARC of a message received through a forwarding address. */
export function SenderAuthBadges({ auth }: { auth: SenderAuth | null | undefined }): ReactElement | null {
  const { t } = useI18n();
  if (!auth) return null;
  const label = (result: string): string =>
    result === "pass" ? t.senderAuth.pass : result === "fail" ? t.senderAuth.fail : result === "none" ? t.senderAuth.none : fmt(t.senderAuth.other, { result });
  return (
    <section className="flex flex-col gap-2" data-testid="sender-auth" aria-labelledby="sender-auth-heading">
      <SectionTitle id="sender-auth-heading">{t.senderAuth.heading}</SectionTitle>
      <ul className="m-0 flex list-none flex-wrap gap-2 p-0">
        {CHECKS.map((check) => {
          const result = auth[check];
          const Icon = result === "pass" ? Check : result === "fail" ? X : Minus;
          return (
            <li key={check} data-check={check} data-result={result}>
              <Badge size="sm" tone={result === "pass" ? "success" : result === "fail" ? "danger" : "neutral"}>
                <Icon aria-hidden="true" className="size-3" strokeWidth={3} />
                <span className="font-mono">
                  {check.toUpperCase()}={result}
                </span>
                <span className="sr-only">({label(result)})</span>
              </Badge>
            </li>
          );
        })}
      </ul>
      {auth.dkim_domains.length ? <p className="text-caption text-muted-foreground">{fmt(t.senderAuth.signedBy, { domains: auth.dkim_domains.join(", ") })}</p> : null}
    </section>
  );
}
