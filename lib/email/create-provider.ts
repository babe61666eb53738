import { getSecretBox } from "@/lib/crypto/secret-box";
import { getMailboxSyncState } from "@/lib/db/queries/mailboxes";
import { listStoredProviderIds } from "@/lib/db/queries/stored-provider-ids";
import type { Mailbox } from "@/lib/db/schema";
import { getEnv } from "@/lib/env";
import { resolveMailHost } from "./host-check";
import { livenessFromEnv } from "@/lib/email/imap/imap-liveness";
import { ImapProvider, type ImapAuth } from "@/lib/email/imap/imap-provider";
import { Pop3Provider } from "@/lib/email/pop3/pop3-provider";
import {
  accessTokenSourceFrom,
  MailError,
  type AccessTokenLookup,
  type AccessTokenSource,
  type MailProvider,
  type ProviderSyncOptions,
} from "./provider";
import { effectiveTlsMode } from "@/lib/email/mail-socket/tls-mode";
import { TokenRenewingProvider } from "./token-renewing-provider";

export type { AccessTokenSource };

export type ProviderDeps = {
  /**
   * An OAuth mailbox's tokens, refreshed before expiry: lib/oauth's token manager, injected by
   * watcher/runtime.ts (the composition root), so lib/email never imports lib/oauth.
   */
  tokens?: (mailboxId: string) => AccessTokenLookup;
  /**
   * Organisation mailboxes (issue 18: app-only Graph, delegated Gmail): a token source from the
   * organisation's credentials, or undefined for any other mailbox. Injected like `tokens`.
   */
  organisationTokens?: (mailbox: Mailbox) => AccessTokenSource | undefined;
  /** A fixed access-token source instead of `tokens` (tests); no session renewal then. */
  getAccessToken?: AccessTokenSource;
  /** Extra trust anchors (private CAs; tests use a self-signed one). */
  ca?: string;
  /** Builders for the API providers, registered by the runtime that has them. */
  apiProviders?: Partial<
    Record<
      "gmail_api" | "graph_api",
      (mailbox: Mailbox, getAccessToken: AccessTokenSource) => MailProvider | Promise<MailProvider>
    >
  >;
};

/**
 * The discovery settings every provider is built with: the cursor as stored NOW (the row the
 * watcher loaded may be hours old), the start mode for a first connect, the after-ingest action,
 * the size cap, and a lookup of what is already stored.
 */
export async function buildProviderSyncOptions(mailbox: Mailbox, opts: { readCursor?: boolean } = {}): Promise<ProviderSyncOptions> {
  return {
    cursor: opts.readCursor === false ? mailbox.syncState : ((await getMailboxSyncState({ mailboxId: mailbox.id })) ?? mailbox.syncState),
    startMode: mailbox.startMode,
    startSince: mailbox.startSince,
    afterIngest: mailbox.afterIngest,
    moveToFolder: mailbox.moveToFolder,
    maxMessageBytes: getEnv().EMAIL_MAX_MESSAGE_BYTES,
    knownIds: (ids) => listStoredProviderIds({ mailboxId: mailbox.id, ids }),
  };
}

async function resolveImapAuth(mailbox: Mailbox, deps: ProviderDeps): Promise<ImapAuth> {
  const user = mailbox.username || mailbox.address || mailbox.oauthConnectedEmail || "";
  if (!user) throw new MailError("config", "The mailbox has no username or address.");
  if (mailbox.authMethod === "oauth2") {
    if (!deps.getAccessToken) throw new MailError("needs_reauth", "The mailbox is not connected by OAuth.");
    return { user: mailbox.oauthConnectedEmail || user, accessToken: await deps.getAccessToken() };
  }
  if (!mailbox.passwordEncrypted) throw new MailError("config", "No password is saved for this mailbox.");
  return { user, pass: getSecretBox().decrypt(mailbox.passwordEncrypted) };
}

/** Seed §5.2 factory: picks the provider from the mailbox row. */
export async function createProvider(mailbox: Mailbox, deps: ProviderDeps = {}): Promise<MailProvider> {
  const env = getEnv();
  if (mailbox.access === "gmail_api" || mailbox.access === "graph_api") {
    const build = deps.apiProviders?.[mailbox.access];
    // OAuth mailboxes get their tokens from the injected lookups (watcher/runtime.ts) unless the
    // caller gives a fixed source; app-only Graph and delegated Gmail (issue 18) from the
    // organisation's credentials, the others from the token manager.
    const tokens = deps.tokens;
    const getAccessToken =
      deps.getAccessToken ??
      deps.organisationTokens?.(mailbox) ??
      (mailbox.authMethod === "oauth2" && tokens ? accessTokenSourceFrom(tokens(mailbox.id)) : undefined);
    if (!build || !getAccessToken) {
      throw new MailError("config", `The ${mailbox.access} provider is not available in this process.`);
    }
    return build(mailbox, getAccessToken);
  }
  if (!mailbox.host) throw new MailError("config", "The mailbox has no server host.");
  // Resolved once here, at every connect: providers get the checked address, and the name only as
  // the TLS servername, so a rebinding DNS answer cannot redirect the connection (host-check.ts).
  const resolved = await resolveMailHost(mailbox.host, { allowPrivate: env.MAIL_ALLOW_PRIVATE_HOSTS });
  const tlsMode = effectiveTlsMode(mailbox);
  const limits = { maxLineBytes: env.EMAIL_MAX_LINE_BYTES, maxResponseBytes: env.EMAIL_MAX_RESPONSE_BYTES };
  if (mailbox.access === "pop3") {
    // POP3 signs in with a password (USER/PASS); the stored rows remember what was read.
    if (mailbox.authMethod === "oauth2") throw new MailError("config", "POP3 mailboxes sign in with a password, not OAuth.");
    const auth = await resolveImapAuth(mailbox, deps);
    if (!("pass" in auth)) throw new MailError("config", "No password is saved for this mailbox.");
    // The cursor is read fresh: the row the watcher loaded may predate the baseline.
    const state = (await getMailboxSyncState({ mailboxId: mailbox.id })) ?? mailbox.syncState;
    return new Pop3Provider({
      mailboxId: mailbox.id,
      host: mailbox.host,
      address: resolved.address,
      ...(resolved.servername ? { servername: resolved.servername } : {}),
      port: mailbox.port,
      tlsMode,
      allowInvalidCertificate: mailbox.allowInvalidCertificate,
      ...(deps.ca ? { ca: deps.ca } : {}),
      auth,
      pollIntervalMs: mailbox.pollIntervalSeconds * 1000,
      deleteAfterIngest: mailbox.deleteAfterIngest,
      connectTimeoutMs: env.EMAIL_CONNECT_TIMEOUT_SECONDS * 1000,
      commandTimeoutMs: env.EMAIL_COMMAND_TIMEOUT_SECONDS * 1000,
      startMode: mailbox.startMode,
      startSince: mailbox.startSince,
      ...(state.pop3BaselineAt ? { baselineAt: state.pop3BaselineAt } : {}),
      ...(state.pop3BacklogUids?.length ? { backlogUids: state.pop3BacklogUids } : {}),
      ...(state.pop3AfterIngestPending?.length ? { afterIngestPending: state.pop3AfterIngestPending } : {}),
      maxMessageBytes: env.EMAIL_MAX_MESSAGE_BYTES,
    });
  }
  // IMAP reads the cursor at each connect (loadCursor below), so not here as well.
  const sync = await buildProviderSyncOptions(mailbox, { readCursor: false });
  const imap = (auth: ImapAuth): ImapProvider => new ImapProvider({
    host: resolved.address,
    ...(resolved.servername ? { servername: resolved.servername } : {}),
    port: mailbox.port,
    tlsMode,
    limits,
    allowInvalidCertificate: mailbox.allowInvalidCertificate,
    ...(deps.ca ? { ca: deps.ca } : {}),
    auth,
    folder: mailbox.folder,
    useIdle: mailbox.useIdle,
    idleTimeoutMs: env.EMAIL_IDLE_TIMEOUT_SECONDS * 1000,
    connectTimeoutMs: env.EMAIL_CONNECT_TIMEOUT_SECONDS * 1000,
    liveness: livenessFromEnv(env),
    ...sync,
    // Every session (a token renewal opens a new one) starts from the cursor as committed now.
    loadCursor: async () => (await getMailboxSyncState({ mailboxId: mailbox.id })) ?? sync.cursor,
  });
  if (mailbox.authMethod === "oauth2" && !deps.getAccessToken) {
    // XOAUTH2 with tokens from the token manager; the session is renewed before the token expires.
    const user = mailbox.oauthConnectedEmail || mailbox.username || mailbox.address;
    if (!user) throw new MailError("config", "The mailbox has no username or address.");
    if (!deps.tokens) throw new MailError("config", "OAuth tokens are not available in this process.");
    return new TokenRenewingProvider({
      access: "imap",
      build: (accessToken) => imap({ user, accessToken }),
      getToken: deps.tokens(mailbox.id),
      renewBeforeMs: env.OAUTH_REFRESH_SKEW_SECONDS * 1000,
    });
  }
  return imap(await resolveImapAuth(mailbox, deps));
}
