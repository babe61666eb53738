import type { Logger } from "pino";
import { getMailboxSyncState, updateSyncState } from "@/lib/db/queries/mailboxes";
import { listStoredProviderIds } from "@/lib/db/queries/stored-provider-ids";
import type { Mailbox, SyncState } from "@/lib/db/schema";
import { getEnv } from "@/lib/env";
import type { IngestPolicy } from "./api-http";
import type { ProviderDeps } from "./create-provider";
import { GmailProvider } from "./gmail-provider";
import { deriveGraphClientState } from "./graph-notifications";
import { GraphProvider } from "./graph-provider";
import type { AccessTokenSource, MailProvider } from "./provider";

/**
 * Builders for the API providers, registered by the watcher. Kept out of create-provider.ts so the
 * web process (which only tests IMAP/POP3 connections) does not load the Gmail and Graph clients.
 *
 * The cursors and push registrations are read from the database at every connect: the row the
 * watcher loaded may be hours old, and starting from its stale subscription id would create a
 * second Graph subscription on every reconnect.
 */
export function buildApiProviders({ log }: { log?: Logger } = {}): NonNullable<ProviderDeps["apiProviders"]> {
  const env = getEnv();
  const fallbackPollIntervalMs = env.API_PUSH_FALLBACK_POLL_SECONDS * 1000;
  const freshState = async (mailbox: Mailbox): Promise<SyncState> => (await getMailboxSyncState({ mailboxId: mailbox.id })) ?? mailbox.syncState;
  const childLog = (mailbox: Mailbox): Logger | undefined => log?.child({ mailbox_id: mailbox.id, tenant_id: mailbox.tenantId, purpose: mailbox.purpose });
  // Start mode, after-ingest action, size cap and the stored-id lookup, the same for both providers.
  const policy = (mailbox: Mailbox, state: SyncState): IngestPolicy & { lastReceivedAt?: string } => ({
    startMode: mailbox.startMode,
    startSince: mailbox.startSince,
    afterIngest: mailbox.afterIngest,
    moveToFolder: mailbox.moveToFolder,
    maxMessageBytes: env.EMAIL_MAX_MESSAGE_BYTES,
    knownIds: (ids) => listStoredProviderIds({ mailboxId: mailbox.id, ids }),
    ...(state.apiLastReceivedAt ? { lastReceivedAt: state.apiLastReceivedAt } : {}),
  });
  return {
    gmail_api: async (mailbox: Mailbox, getAccessToken: AccessTokenSource): Promise<MailProvider> => {
      const state = await freshState(mailbox);
      const providerLog = childLog(mailbox);
      const { lastReceivedAt, ...ingest } = policy(mailbox, state);
      return new GmailProvider({
        ...ingest,
        rootUrl: env.GMAIL_API_BASE_URL,
        label: mailbox.folder || "INBOX",
        getAccessToken,
        syncState: {
          ...(state.gmailHistoryId ? { historyId: state.gmailHistoryId } : {}),
          ...(lastReceivedAt ? { lastReceivedAt } : {}),
          ...(state.apiAfterIngestPending?.length ? { afterIngestPending: state.apiAfterIngestPending } : {}),
          ...(state.gmailWatchExpiresAt ? { watchExpiresAt: state.gmailWatchExpiresAt } : {}),
          ...(state.gmailWatchRenewedAt ? { watchRenewedAt: state.gmailWatchRenewedAt } : {}),
          ...(state.gmailWatchLabel ? { watchLabel: state.gmailWatchLabel } : {}),
        },
        onSyncState: (patch) => updateSyncState({ mailboxId: mailbox.id, patch }),
        pollIntervalMs: env.GMAIL_POLL_SECONDS * 1000,
        ...(env.GMAIL_PUBSUB_TOPIC ? { push: { topicName: env.GMAIL_PUBSUB_TOPIC, fallbackPollIntervalMs } } : {}),
        ...(providerLog ? { log: providerLog } : {}),
      });
    },
    graph_api: async (mailbox: Mailbox, getAccessToken: AccessTokenSource): Promise<MailProvider> => {
      const state = await freshState(mailbox);
      const providerLog = childLog(mailbox);
      const { lastReceivedAt, ...ingest } = policy(mailbox, state);
      return new GraphProvider({
        ...ingest,
        baseUrl: env.GRAPH_API_BASE_URL,
        // Graph names the inbox "inbox"; an IMAP-style "INBOX" from the form means the same.
        folder: !mailbox.folder || mailbox.folder.toUpperCase() === "INBOX" ? "inbox" : mailbox.folder,
        getAccessToken,
        syncState: {
          ...(state.graphDeltaLink ? { deltaLink: state.graphDeltaLink } : {}),
          ...(lastReceivedAt ? { lastReceivedAt } : {}),
          ...(state.apiAfterIngestPending?.length ? { afterIngestPending: state.apiAfterIngestPending } : {}),
          ...(state.graphSubscriptionId ? { subscriptionId: state.graphSubscriptionId } : {}),
          ...(state.graphSubscriptionExpiresAt ? { subscriptionExpiresAt: state.graphSubscriptionExpiresAt } : {}),
          ...(state.graphSubscriptionResource ? { subscriptionResource: state.graphSubscriptionResource } : {}),
        },
        onSyncState: (patch) => updateSyncState({ mailboxId: mailbox.id, patch }),
        pollIntervalMs: env.GRAPH_POLL_SECONDS * 1000,
        ...(env.GRAPH_NOTIFICATION_URL
          ? {
              push: {
                notificationUrl: env.GRAPH_NOTIFICATION_URL,
                clientState: deriveGraphClientState({ mailboxId: mailbox.id, secret: env.SESSION_SECRET }),
                lifetimeMs: env.GRAPH_SUBSCRIPTION_MINUTES * 60_000,
                fallbackPollIntervalMs,
              },
            }
          : {}),
        ...(providerLog ? { log: providerLog } : {}),
      });
    },
  };
}
