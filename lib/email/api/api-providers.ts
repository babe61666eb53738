import type { Logger } from "pino";
import { getMailboxSyncState, updateSyncState } from "@/lib/db/queries/mailboxes";
import { listStoredProviderIds } from "@/lib/db/queries/stored-provider-ids";
import type { Mailbox, SyncState } from "@/lib/db/schema";
import { getEnv } from "@/lib/env";
import type { IngestPolicy } from "./api-http";
import type { ProviderDeps } from "@/lib/email/create-provider";
import { GmailProvider } from "@/lib/email/gmail/gmail-provider";
import { deriveGraphClientState } from "@/lib/email/graph/graph-notifications";
import { GraphProvider } from "@/lib/email/graph/graph-provider";
import type { AccessTokenSource, MailProvider } from "@/lib/email/provider";
import type { ApiResumeState } from "./api-mail-provider";

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
  // Start mode, after-ingest action, size cap, the stored-id lookup, the token, the sync-state
  // writer and the log: the same for both providers.
  const shared = (mailbox: Mailbox, getAccessToken: AccessTokenSource): SharedOptions => {
    const providerLog = log?.child({ mailbox_id: mailbox.id, tenant_id: mailbox.tenantId, purpose: mailbox.purpose });
    return {
      startMode: mailbox.startMode,
      startSince: mailbox.startSince,
      afterIngest: mailbox.afterIngest,
      moveToFolder: mailbox.moveToFolder,
      maxMessageBytes: env.EMAIL_MAX_MESSAGE_BYTES,
      knownIds: (ids) => listStoredProviderIds({ mailboxId: mailbox.id, ids }),
      getAccessToken,
      onSyncState: (patch) => updateSyncState({ mailboxId: mailbox.id, patch }),
      ...(providerLog ? { log: providerLog } : {}),
    };
  };
  return {
    gmail_api: async (mailbox: Mailbox, getAccessToken: AccessTokenSource): Promise<MailProvider> => {
      const state = await freshState(mailbox);
      return new GmailProvider({
        ...shared(mailbox, getAccessToken),
        rootUrl: env.GMAIL_API_BASE_URL,
        label: mailbox.folder || "INBOX",
        syncState: {
          ...(state.gmailHistoryId ? { historyId: state.gmailHistoryId } : {}),
          ...resumeState(state),
          ...(state.gmailWatchExpiresAt ? { watchExpiresAt: state.gmailWatchExpiresAt } : {}),
          ...(state.gmailWatchRenewedAt ? { watchRenewedAt: state.gmailWatchRenewedAt } : {}),
          ...(state.gmailWatchLabel ? { watchLabel: state.gmailWatchLabel } : {}),
        },
        pollIntervalMs: env.GMAIL_POLL_SECONDS * 1000,
        ...(env.GMAIL_PUBSUB_TOPIC ? { push: { topicName: env.GMAIL_PUBSUB_TOPIC, fallbackPollIntervalMs } } : {}),
      });
    },
    graph_api: async (mailbox: Mailbox, getAccessToken: AccessTokenSource): Promise<MailProvider> => {
      const state = await freshState(mailbox);
      const org = graphOrgOptions(mailbox, env);
      return new GraphProvider({
        ...shared(mailbox, getAccessToken),
        ...org.provider,
        baseUrl: env.GRAPH_API_BASE_URL,
        // Graph names the inbox "inbox"; an IMAP-style "INBOX" from the form means the same.
        folder: !mailbox.folder || mailbox.folder.toUpperCase() === "INBOX" ? "inbox" : mailbox.folder,
        syncState: {
          ...(state.graphDeltaLink ? { deltaLink: state.graphDeltaLink } : {}),
          ...resumeState(state),
          ...(state.graphSubscriptionId ? { subscriptionId: state.graphSubscriptionId } : {}),
          ...(state.graphSubscriptionExpiresAt ? { subscriptionExpiresAt: state.graphSubscriptionExpiresAt } : {}),
          ...(state.graphSubscriptionResource ? { subscriptionResource: state.graphSubscriptionResource } : {}),
        },
        pollIntervalMs: org.pollSeconds * 1000,
        ...(env.GRAPH_NOTIFICATION_URL && org.push
          ? {
              push: {
                notificationUrl: env.GRAPH_NOTIFICATION_URL,
                clientState: deriveGraphClientState({ mailboxId: mailbox.id, secret: env.SESSION_SECRET }),
                lifetimeMs: env.GRAPH_SUBSCRIPTION_MINUTES * 60_000,
                fallbackPollIntervalMs,
              },
            }
          : {}),
      });
    },
  };
}

type SharedOptions = IngestPolicy & {
  getAccessToken: AccessTokenSource;
  onSyncState: (patch: Partial<SyncState>) => Promise<void>;
  log?: Logger;
};

/**
 * What a restart resumes from, the same keys for both providers: the newest receive time seen
 * (re-baseline window), the import queue a crash left (first-import.ts) and the after-ingest
 * action the last batch may not have got to.
 */
export function resumeState(
  state: Pick<SyncState, "apiLastReceivedAt" | "apiBaselineIds" | "apiBaselineAt" | "apiAfterIngestPending">,
): ApiResumeState {
  return {
    ...(state.apiLastReceivedAt ? { lastReceivedAt: state.apiLastReceivedAt } : {}),
    ...(state.apiBaselineIds?.length ? { baselineIds: state.apiBaselineIds } : {}),
    ...(state.apiBaselineAt ? { baselineAt: state.apiBaselineAt } : {}),
    ...(state.apiAfterIngestPending?.length ? { afterIngestPending: state.apiAfterIngestPending } : {}),
  };
}

/**
 * Issue 18: how a Graph mailbox is read per kind. A shared mailbox goes through the signed-in
 * admin's token at /users/{address}; Graph sends no change notifications for it under delegated
 * permissions, so it polls delta every GRAPH_SHARED_POLL_SECONDS instead of subscribing. App-only
 * reads /users/{address} too and subscribes like an own mailbox.
 */
export function graphOrgOptions(
  mailbox: Pick<Mailbox, "mailboxKind" | "address" | "oauthConnectedEmail">,
  env: ReturnType<typeof getEnv>,
): { provider: { mailboxAddress?: string; accessDeniedMessage?: string }; pollSeconds: number; push: boolean } {
  const address = mailbox.address ?? "";
  if (mailbox.mailboxKind === "shared" && address) {
    return {
      provider: {
        mailboxAddress: address,
        accessDeniedMessage: `${mailbox.oauthConnectedEmail ?? "The signed-in account"} no longer has access to the shared mailbox ${address} (Microsoft Graph ErrorAccessDenied). Give the account Full Access to the mailbox again, or reconnect with an account that has it.`,
      },
      pollSeconds: env.GRAPH_SHARED_POLL_SECONDS,
      push: false,
    };
  }
  if (mailbox.mailboxKind === "app_only" && address) {
    return {
      provider: {
        mailboxAddress: address,
        accessDeniedMessage: `The app may not read ${address} (Microsoft Graph ErrorAccessDenied): the Mail.ReadWrite application permission was removed, or an application access policy excludes this mailbox. Grant it again, then save the settings.`,
      },
      pollSeconds: env.GRAPH_POLL_SECONDS,
      push: true,
    };
  }
  return { provider: {}, pollSeconds: env.GRAPH_POLL_SECONDS, push: true };
}
