import { isMailErrorCode } from "@/lib/api/error-codes";
import type { Dictionary } from "./en";
import { fmt } from "./index";

/** What a mail error names: the mailbox's host, port, folder and protocol (any may be unknown). */
export type MailErrorContext = {
  host?: string | null;
  port?: number | string | null;
  folder?: string | null;
  protocol?: string | null;
};

/**
 * The dictionary's title and advice for a stable mail error code, with the mailbox's details filled
 * in. Shared by the settings page (components/error-text.ts) and the alert email so both say the same
 * words for the same code; an unknown code reads as "unknown".
 */
export function mailErrorWords(t: Dictionary, code: string | null | undefined, context: MailErrorContext): { title: string; advice: string } {
  const vars = {
    host: context.host || "?",
    port: context.port ?? "?",
    folder: context.folder || "INBOX",
    protocol: (context.protocol || "imap").toUpperCase(),
  };
  const entry = t.mailErrors[isMailErrorCode(code) ? code : "unknown"];
  return { title: fmt(entry.title, vars), advice: fmt(entry.advice, vars) };
}
