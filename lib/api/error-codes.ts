/**
 * The stable codes a mail failure carries: the watcher stores one with the mailbox's last error
 * (mailboxes.last_error_code), the Test call and the API return it, and the UI translates the code
 * (lib/i18n mailErrors) instead of reading the English sentence. Adding a code means adding its
 * en/tr texts; renaming one breaks stored rows, so don't.
 */
export const MAIL_ERROR_CODES = [
  "dns",
  "refused",
  "timeout",
  "tls",
  "auth",
  "needs_reauth",
  "folder_missing",
  "host_not_allowed",
  "rate_limited",
  "protocol",
  "network",
  "config",
  /** The database refused to store a batch: nothing of it is committed, the cursor did not move. */
  "storage",
  /** Too-large messages wait at the provider (a note shown while connected, not a failure). */
  "too_large_held",
  /** Issue 15: sign-in failed too often; the watcher stopped trying until settings are saved or "Try again". */
  "paused",
  "unknown",
] as const;

export type MailErrorCode = (typeof MAIL_ERROR_CODES)[number];

const KNOWN = new Set<string>(MAIL_ERROR_CODES);

export function isMailErrorCode(code: unknown): code is MailErrorCode {
  return typeof code === "string" && KNOWN.has(code);
}
