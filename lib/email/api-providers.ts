import { updateSyncState } from "../db/queries/mailboxes";
import type { Mailbox } from "../db/schema";
import { getEnv } from "../env";
import type { AccessTokenSource, ProviderDeps } from "./create-provider";
import { GmailProvider } from "./gmail-provider";
import { GraphProvider } from "./graph-provider";
import type { MailProvider } from "./provider";

/**
 * Builders for the API providers, registered by the watcher. Kept out of create-provider.ts so the
 * web process (which only tests IMAP/POP3 connections) does not load the Gmail and Graph clients.
 */
export function buildApiProviders(): NonNullable<ProviderDeps["apiProviders"]> {
  const env = getEnv();
  return {
    gmail_api: (mailbox: Mailbox, getAccessToken: AccessTokenSource): MailProvider =>
      new GmailProvider({
        rootUrl: env.GMAIL_API_BASE_URL,
        label: mailbox.folder || "INBOX",
        getAccessToken,
        syncState: mailbox.syncState.gmailHistoryId ? { historyId: mailbox.syncState.gmailHistoryId } : {},
        onSyncState: (s) => updateSyncState({ mailboxId: mailbox.id, patch: s }),
        pollIntervalMs: env.GMAIL_POLL_SECONDS * 1000,
      }),
    graph_api: (mailbox: Mailbox, getAccessToken: AccessTokenSource): MailProvider =>
      new GraphProvider({
        baseUrl: env.GRAPH_API_BASE_URL,
        // Graph names the inbox "inbox"; an IMAP-style "INBOX" from the form means the same.
        folder: !mailbox.folder || mailbox.folder.toUpperCase() === "INBOX" ? "inbox" : mailbox.folder,
        getAccessToken,
        syncState: mailbox.syncState.graphDeltaLink ? { deltaLink: mailbox.syncState.graphDeltaLink } : {},
        onSyncState: (s) => updateSyncState({ mailboxId: mailbox.id, patch: s }),
        pollIntervalMs: env.GRAPH_POLL_SECONDS * 1000,
      }),
  };
}
