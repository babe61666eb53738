import type { FetchBatch, FetchedMessage, LegacyMailProvider, MailProvider } from "./provider";

/**
 * TEMPORARY (issue 13 transition): presents a provider that still has the pre-cursor methods
 * (fetchUnread / markAsRead / countUnread) as a MailProvider, so the watcher runs only the new
 * sync loop. A provider that already implements fetchNew is returned as it is, so this is safe to
 * keep until every port has landed; then delete this file and LegacyMailProvider.
 */
export function adaptLegacyProvider(provider: MailProvider | LegacyMailProvider): MailProvider {
  if ("fetchNew" in provider && typeof provider.fetchNew === "function") return provider;
  const legacy = provider as LegacyMailProvider;
  const toFetched = (m: { providerMessageId: string; raw: Buffer; receivedAt?: Date }): FetchedMessage => ({
    ...m,
    size: m.raw.length,
  });
  const adapter: MailProvider = {
    get access() {
      return legacy.access;
    },
    get isConnected() {
      return legacy.isConnected;
    },
    connect: () => legacy.connect(),
    disconnect: () => legacy.disconnect(),
    fetchNew: async ({ maxCount }): Promise<FetchBatch> => {
      const messages = (await legacy.fetchUnread({ maxCount })).map(toFetched);
      const more = messages.length >= maxCount;
      return { messages, cursor: {}, more, ...(more ? {} : { backlog: 0 }) };
    },
    // No reconcile for legacy providers: they cannot list a window by date.
    listRecent: async () => [],
    fetchByIds: async () => [],
    applyAfterIngest: (ids) => legacy.markAsRead(ids),
    waitForChange: (opts) => legacy.waitForChange(opts),
    getHealthStatus: () => legacy.getHealthStatus(),
    ...(legacy.notifyChange ? { notifyChange: (e) => legacy.notifyChange?.(e) } : {}),
    ...(legacy.stopPush ? { stopPush: () => legacy.stopPush?.() ?? Promise.resolve() } : {}),
  };
  return adapter;
}
