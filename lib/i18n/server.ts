import "server-only";
import { cookies, headers } from "next/headers";
import { LANG_COOKIE, resolveLocale, type Locale } from "./locales";

/** The language of the page being rendered: the switch's cookie, else the browser's Accept-Language. */
export async function getRequestLocale(): Promise<Locale> {
  const [cookieStore, headerStore] = await Promise.all([cookies(), headers()]);
  return resolveLocale({
    cookie: cookieStore.get(LANG_COOKIE)?.value,
    acceptLanguage: headerStore.get("accept-language"),
  });
}
