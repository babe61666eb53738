import type { TestResult } from "@/lib/api/types";
import type { Mailbox } from "@/lib/db/schema";
import { getEnv } from "@/lib/env";
import { requestOrgToken } from "@/lib/oauth/org-token-source";
import { getAccessToken } from "@/lib/oauth/token-manager";
import { getMailbox } from "@/lib/db/queries/mailboxes";
import { errorMessage, networkCode, networkFailure } from "@/lib/email/api/api-http";
import type { EmailType } from "@/lib/email/email-type";
import { testMailboxSettings } from "./mailbox-settings";
import { MailError } from "@/lib/email/provider";
import type { MailboxTestInput } from "./settings-schema";

/**
 * The Test button for issue 18's organisation mailboxes: one token request the way the watcher
 * makes it (client credentials for app-only, a signed JWT for delegated Gmail, the delegating
 * admin's own token for a shared mailbox), then one read of the inbox through the mail API, so
 * "ok" means the watcher will get in too. The URLs are the configured API bases, never tenant input;
 * the address only goes into the path, encoded.
 */
export function isOrganisationMailbox(mailbox: Pick<Mailbox, "mailboxKind">): boolean {
  return mailbox.mailboxKind === "app_only" || mailbox.mailboxKind === "delegated" || mailbox.mailboxKind === "shared";
}

export async function testOrganisationMailbox(mailbox: Mailbox): Promise<TestResult> {
  const env = getEnv();
  const folder = mailbox.folder ?? "INBOX";
  try {
    const accessToken =
      mailbox.mailboxKind === "shared" ? (await getAccessToken(mailbox.id)).accessToken : (await requestOrgToken(mailbox, env)).accessToken;
    const gmail = mailbox.access === "gmail_api";
    if (!gmail && !mailbox.address) throw new MailError("config", "The mailbox has no address.");
    const url = gmail
      ? `${env.GMAIL_API_BASE_URL.replace(/\/+$/, "")}/gmail/v1/users/me/labels/${encodeURIComponent(folder)}`
      : `${env.GRAPH_API_BASE_URL.replace(/\/+$/, "")}/users/${encodeURIComponent(mailbox.address!)}/mailFolders/${folder === "INBOX" ? "inbox" : encodeURIComponent(folder)}`;
    const res = await fetch(url, { headers: { authorization: `Bearer ${accessToken}` }, signal: AbortSignal.timeout(env.OAUTH_HTTP_TIMEOUT_SECONDS * 1000) });
    if (res.status === 401 || res.status === 403) {
      return { ok: false, error: { code: "needs_reauth", message: `${gmail ? "Gmail" : "Microsoft Graph"} refused access to ${mailbox.address ?? "the mailbox"} (HTTP ${res.status}).` } };
    }
    if (res.status === 404) return { ok: false, error: { code: "folder_missing", message: `The folder ${folder} was not found in ${mailbox.address ?? "the mailbox"}.` } };
    if (res.status === 429) return { ok: false, error: { code: "rate_limited", message: "The mail service asked to slow down; try again in a minute." } };
    if (!res.ok) return { ok: false, error: { code: "protocol", message: `The mail service answered HTTP ${res.status}.` } };
    const body = (await res.json()) as Record<string, unknown>;
    const count = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
    return gmail
      ? { ok: true, folder, exists: count(body.messagesTotal), unseen: count(body.messagesUnread) }
      : { ok: true, folder, exists: count(body.totalItemCount), unseen: count(body.unreadItemCount) };
  } catch (err) {
    if (err instanceof MailError) return { ok: false, error: { code: err.code, message: err.message } };
    const code = networkCode(err);
    if (code) return { ok: false, error: networkFailure(code, mailbox.access === "gmail_api" ? "Gmail" : "Microsoft Graph") };
    return { ok: false, error: { code: "unknown", message: errorMessage(err) } };
  }
}

/**
 * POST .../test: organisation mailboxes (issue 18) have no server to dial, so their test is a token
 * and one API read; everything else (and a form with a host: someone switching to IMAP/POP3) is the
 * server test of lib/email.
 */
export async function testMailboxConnection({ tenantId, emailType, input }: { tenantId: string; emailType: EmailType; input: MailboxTestInput }): Promise<TestResult> {
  const saved = await getMailbox({ tenantId, purpose: emailType });
  if (saved && isOrganisationMailbox(saved) && input.host === undefined) return testOrganisationMailbox(saved);
  return testMailboxSettings({ tenantId, emailType, input });
}
