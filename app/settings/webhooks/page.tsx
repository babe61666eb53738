import type { Metadata } from "next";
import { WebhooksPanel } from "@/components/webhooks-panel";
import { requirePageSession } from "@/lib/auth/current-session";
import { getRequestLocale, localisedTitle } from "@/lib/i18n/server";

export const dynamic = "force-dynamic";

export function generateMetadata(): Promise<Metadata> {
  return localisedTitle((t) => t.webhooks.title);
}

/** Tenant admins manage webhook endpoints and see the delivery log here. Needs a login. */
export default async function WebhooksSettingsPage() {
  const session = await requirePageSession();
  return <WebhooksPanel locale={await getRequestLocale()} canEdit={session.user.role === "admin"} />;
}
