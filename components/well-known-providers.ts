/**
 * Server settings of large public mail providers, looked up by the address's domain, so most
 * admins only type their address and password. Sources: each provider's published IMAP/POP3
 * settings (all use implicit TLS on 993 / 995).
 */
export type WellKnownProvider = {
  name: string;
  imap: { host: string; port: number };
  pop3?: { host: string; port: number };
  /** Accounts with two-step sign-in (or always) need an app password for IMAP. */
  appPassword: boolean;
  /** The OAuth provider that connects the same account without a password. */
  oauth?: "google" | "microsoft";
};

const GMAIL: WellKnownProvider = {
  name: "Gmail",
  imap: { host: "imap.gmail.com", port: 993 },
  pop3: { host: "pop.gmail.com", port: 995 },
  appPassword: true,
  oauth: "google",
};
const OUTLOOK: WellKnownProvider = {
  name: "Outlook",
  imap: { host: "outlook.office365.com", port: 993 },
  pop3: { host: "outlook.office365.com", port: 995 },
  appPassword: false,
  oauth: "microsoft",
};
const YANDEX: WellKnownProvider = {
  name: "Yandex",
  imap: { host: "imap.yandex.com", port: 993 },
  pop3: { host: "pop.yandex.com", port: 995 },
  appPassword: true,
};
const ICLOUD: WellKnownProvider = {
  name: "iCloud",
  imap: { host: "imap.mail.me.com", port: 993 },
  appPassword: true,
};
const YAHOO: WellKnownProvider = {
  name: "Yahoo",
  imap: { host: "imap.mail.yahoo.com", port: 993 },
  pop3: { host: "pop.mail.yahoo.com", port: 995 },
  appPassword: true,
};
const AOL: WellKnownProvider = {
  name: "AOL",
  imap: { host: "imap.aol.com", port: 993 },
  pop3: { host: "pop.aol.com", port: 995 },
  appPassword: true,
};
const ZOHO: WellKnownProvider = {
  name: "Zoho Mail",
  imap: { host: "imap.zoho.com", port: 993 },
  pop3: { host: "pop.zoho.com", port: 995 },
  appPassword: false,
};
const GMX_COM: WellKnownProvider = {
  name: "GMX",
  imap: { host: "imap.gmx.com", port: 993 },
  pop3: { host: "pop.gmx.com", port: 995 },
  appPassword: false,
};
const GMX_NET: WellKnownProvider = {
  name: "GMX",
  imap: { host: "imap.gmx.net", port: 993 },
  pop3: { host: "pop.gmx.net", port: 995 },
  appPassword: false,
};
const MAIL_RU: WellKnownProvider = {
  name: "Mail.ru",
  imap: { host: "imap.mail.ru", port: 993 },
  pop3: { host: "pop.mail.ru", port: 995 },
  appPassword: true,
};

const BY_DOMAIN: Record<string, WellKnownProvider> = {
  "gmail.com": GMAIL,
  "googlemail.com": GMAIL,
  "outlook.com": OUTLOOK,
  "outlook.com.tr": OUTLOOK,
  "hotmail.com": OUTLOOK,
  "hotmail.com.tr": OUTLOOK,
  "hotmail.co.uk": OUTLOOK,
  "live.com": OUTLOOK,
  "msn.com": OUTLOOK,
  "office365.com": OUTLOOK,
  "onmicrosoft.com": OUTLOOK,
  "yandex.com": YANDEX,
  "yandex.com.tr": YANDEX,
  "yandex.ru": YANDEX,
  "ya.ru": YANDEX,
  "icloud.com": ICLOUD,
  "me.com": ICLOUD,
  "mac.com": ICLOUD,
  "yahoo.com": YAHOO,
  "yahoo.co.uk": YAHOO,
  "ymail.com": YAHOO,
  "rocketmail.com": YAHOO,
  "aol.com": AOL,
  "zoho.com": ZOHO,
  "zohomail.com": ZOHO,
  "gmx.com": GMX_COM,
  "gmx.net": GMX_NET,
  "gmx.de": GMX_NET,
  "mail.ru": MAIL_RU,
  "inbox.ru": MAIL_RU,
  "list.ru": MAIL_RU,
  "bk.ru": MAIL_RU,
};

/** The provider for an address, e.g. "res@gmail.com" -> Gmail; also tenant domains like x.onmicrosoft.com. */
export function wellKnownProviderFor(address: string): WellKnownProvider | null {
  const at = address.lastIndexOf("@");
  if (at < 0) return null;
  const domain = address.slice(at + 1).trim().toLowerCase().replace(/\.$/, "");
  if (!domain) return null;
  if (BY_DOMAIN[domain]) return BY_DOMAIN[domain];
  if (domain.endsWith(".onmicrosoft.com")) return OUTLOOK;
  return null;
}

/** Every host this table can fill in: a host from here may be replaced when the address changes. */
export const WELL_KNOWN_HOSTS: ReadonlySet<string> = new Set(
  Object.values(BY_DOMAIN).flatMap((p) => [p.imap.host, ...(p.pop3 ? [p.pop3.host] : [])]),
);
