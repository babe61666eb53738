import type { Metadata } from "next";
import { EmailSettings } from "@/components/email-settings";
import { requirePageSession } from "@/lib/auth/current-session";
import { getRequestLocale, localisedTitle } from "@/lib/i18n/server";

export const dynamic = "force-dynamic";

export function generateMetadata(): Promise<Metadata> {
  return localisedTitle((t) => t.page.title);
}

/** Tenant admins connect and watch their booking and stop-sale mailboxes here. Needs a login. */
export default async function EmailSettingsPage() {
  const session = await requirePageSession();
  const locale = await getRequestLocale();
  return (
    <EmailSettings
      locale={locale}
      user={{ email: session.user.email, role: session.user.role }}
      tenant={{ name: session.tenant.name }}
    />
  );
}
