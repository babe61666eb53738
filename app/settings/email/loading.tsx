import type { ReactElement } from "react";
import { Card, PageContainer } from "@/components/ui/card";
import { Spinner } from "@/components/ui/spinner";
import { getDictionary } from "@/lib/i18n";
import { getRequestLocale } from "@/lib/i18n/server";

/** Shown while the server checks the session and renders the page. */
export default async function Loading(): Promise<ReactElement> {
  const t = getDictionary(await getRequestLocale());
  return (
    <PageContainer>
      <Card className="flex min-h-40 items-center justify-center gap-3 p-6 text-muted-foreground" aria-busy="true">
        <Spinner />
        <span>{t.common.loading}</span>
      </Card>
    </PageContainer>
  );
}
