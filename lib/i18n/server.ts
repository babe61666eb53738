import "server-only";
import type { Metadata } from "next";
import { cookies, headers } from "next/headers";
import { getDictionary, type Dictionary } from "./index";
import { LANG_COOKIE, resolveLocale, type Locale } from "./locales";

/** The language of the page being rendered: the switch's cookie, else the browser's Accept-Language. */
export async function getRequestLocale(): Promise<Locale> {
  const [cookieStore, headerStore] = await Promise.all([cookies(), headers()]);
  return resolveLocale({
    cookie: cookieStore.get(LANG_COOKIE)?.value,
    acceptLanguage: headerStore.get("accept-language"),
  });
}

/** A page's title in the language of the request: the page's own name, then the product's. */
export async function localisedTitle(pick: (t: Dictionary) => string): Promise<Metadata> {
  const t = getDictionary(await getRequestLocale());
  return { title: `${pick(t)} · Mailbox integration` };
}
