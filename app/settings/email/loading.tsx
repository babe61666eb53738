import type { ReactElement } from "react";
import { Card } from "@/components/ui/card";
import { Spinner } from "@/components/ui/spinner";
import { getDictionary } from "@/lib/i18n";
import { getRequestLocale } from "@/lib/i18n/server";

/** Shown while the server checks the session and renders the page. */
export default async function Loading(): Promise<ReactElement> {
  const t = getDictionary(await getRequestLocale());
  return (
    <div className="mx-auto max-w-[1040px] px-3 pt-4 pb-8 sm:px-4 sm:pt-8 sm:pb-12">
      <Card className="flex min-h-40 items-center justify-center gap-3 p-6 text-muted-foreground" aria-busy="true">
        <Spinner />
        <span>{t.common.loading}</span>
      </Card>
    </div>
  );
}
