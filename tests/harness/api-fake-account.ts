import type { GmailFake } from "@/tests/fakes/gmail-fake";
import type { GraphFake } from "@/tests/fakes/graph-fake";
import { sampleMime } from "@/tests/fakes/sample-mime";

/** The watcher's environment for suites against the Gmail and Graph fakes: fast polls and backoff, small batches. */
export function apiWatcherEnv({
  databaseUrl,
  gmail,
  graph,
  batchSize,
  extra = {},
}: {
  databaseUrl: string;
  gmail: GmailFake;
  graph: GraphFake;
  /** EMAIL_FETCH_BATCH_SIZE: small, so a kill lands in the middle of a backlog. */
  batchSize: number;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    GMAIL_API_BASE_URL: gmail.rootUrl,
    GRAPH_API_BASE_URL: graph.baseUrl,
    GMAIL_POLL_SECONDS: "1",
    GRAPH_POLL_SECONDS: "1",
    EMAIL_BACKOFF_MIN_SECONDS: "1",
    EMAIL_BACKOFF_MAX_SECONDS: "2",
    EMAIL_FETCH_BATCH_SIZE: String(batchSize),
    ...extra,
  };
}

/** A fake account of its own (one test sees only the mail it made), with the operations tests need. */
export type FakeAccount = {
  kind: "gmail" | "graph";
  provider: "google" | "microsoft";
  email: string;
  token: string;
  add: (subject: string, opts?: { read?: boolean; at?: Date }) => string;
  markRead: (id: string) => void;
  isRead: (id: string) => boolean;
  /** Still in the watched folder (INBOX label / the account's inbox). */
  inWatched: (id: string) => boolean;
  /** The mailbox's discovery cursor in a SyncState (gmailHistoryId / graphDeltaLink). */
  cursor: (state: Record<string, unknown> | undefined) => unknown;
};

export function fakeAccount({ kind, name, gmail, graph }: { kind: "gmail" | "graph"; name: string; gmail: GmailFake; graph: GraphFake }): FakeAccount {
  const email = `${kind}-${name}@example.test`;
  const token = `${kind}-token-${name}`;
  if (kind === "gmail") {
    gmail.setValidTokens([token], email);
    const labels = (id: string): string[] => gmail.messages(email).find((m) => m.id === id)?.labelIds ?? [];
    return {
      kind,
      provider: "google",
      email,
      token,
      add: (subject, o = {}) =>
        gmail.addMessage(email, sampleMime(subject), { labelIds: o.read ? ["INBOX"] : ["INBOX", "UNREAD"], ...(o.at ? { internalDate: o.at } : {}) }).id,
      markRead: (id) => gmail.modifyLabels(email, id, { remove: ["UNREAD"] }),
      isRead: (id) => !labels(id).includes("UNREAD"),
      inWatched: (id) => labels(id).includes("INBOX"),
      cursor: (state) => state?.gmailHistoryId,
    };
  }
  graph.setValidTokens([token], email);
  // Graph keeps a message's (immutable) id when it moves, so an id finds it in any folder.
  const find = (id: string): ReturnType<GraphFake["messages"]>[number] | undefined => graph.messages(email).find((m) => m.id === id);
  return {
    kind,
    provider: "microsoft",
    email,
    token,
    add: (subject, o = {}) => graph.addMessage(email, sampleMime(subject), { isRead: o.read ?? false, ...(o.at ? { receivedDateTime: o.at } : {}) }).id,
    markRead: (id) => graph.setRead(email, id, true),
    isRead: (id) => find(id)?.isRead ?? false,
    inWatched: (id) => find(id)?.folderId === graph.folderId(email, "inbox"),
    cursor: (state) => state?.graphDeltaLink,
  };
}
