import type { Metadata } from "next";
import type { ReactNode } from "react";
import { getRequestLocale } from "@/lib/i18n/server";
import "./globals.css";

export const metadata: Metadata = {
  title: "Mailbox integration",
  description: "Connect and monitor your booking and stop-sale mailboxes.",
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  // The UI offers Turkish and English (the `lang` cookie, else Accept-Language); screen readers and
  // hyphenation follow the chosen language.
  const lang = await getRequestLocale();
  return (
    <html lang={lang}>
      <body>{children}</body>
    </html>
  );
}
