import type { Metadata } from "next";
import { WebhooksPanel } from "@/components/webhooks-panel";
import { requirePageSession } from "@/lib/auth/current-session";
import { getDictionary } from "@/lib/i18n";
import { getRequestLocale } from "@/lib/i18n/server";

export const dynamic = "force-dynamic";

export async function generateMetadata(): Promise<Metadata> {
  const t = getDictionary(await getRequestLocale());
  return { title: `${t.webhooks.title} · Mailbox integration` };
}

/** Tenant admins manage webhook endpoints and see the delivery log here. Needs a login. */
export default async function WebhooksSettingsPage() {
  const session = await requirePageSession();
  return <WebhooksPanel locale={await getRequestLocale()} canEdit={session.user.role === "admin"} />;
}
