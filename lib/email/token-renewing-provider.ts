import type { MailAccess } from "@/lib/db/schema";
import {
  MailError,
  type AccessTokenLookup,
  type FetchBatch,
  type FetchedMessage,
  type MailProvider,
  type ProviderHealth,
  type StartCandidateCounts,
  type WaitResult,
} from "./provider";

export type TokenRenewingProviderOptions = {
  access: MailAccess;
  /** A new, unconnected provider (e.g. ImapProvider with XOAUTH2) that logs in with this token. */
  build: (accessToken: string) => MailProvider;
  /** The mailbox's tokens (the token manager, injected by the composition root). */
  getToken: AccessTokenLookup;
  /** Renew this long before the token expires (OAUTH_REFRESH_SKEW_SECONDS). */
  renewBeforeMs: number;
};

/**
 * An IMAP session authenticated by an OAuth token (XOAUTH2 / OAUTHBEARER) lives on after login,
 * but some servers end it when the token expires (Outlook does). So shortly before the token expires,
 * a new session is opened with a fresh token and swapped in, and the loop is told to sync
 * ("changed"), which also picks up anything that arrived meanwhile. The swap happens between two
 * waits, never during a fetch. A token the server refuses at login although it should still be
 * valid (revoked, clocks apart) is refreshed once and tried again.
 */
export class TokenRenewingProvider implements MailProvider {
  readonly access: MailAccess;
  private inner: MailProvider | null = null;
  private tokenExpiresAt: Date | null = null;
  private readonly getToken: AccessTokenLookup;
  /** How many sessions were opened with a renewed token (for metrics and tests). */
  renewals = 0;

  constructor(private readonly opts: TokenRenewingProviderOptions) {
    this.access = opts.access;
    this.getToken = opts.getToken;
  }

  get isConnected(): boolean {
    return this.inner?.isConnected ?? false;
  }

  async connect(): Promise<void> {
    await this.disconnect();
    this.inner = await this.open();
  }

  private async open(): Promise<MailProvider> {
    let token = await this.getToken();
    let provider = this.opts.build(token.accessToken);
    try {
      await provider.connect();
    } catch (err) {
      if (!(err instanceof MailError) || err.code !== "auth") throw err;
      const fresh = await this.getToken({ forceRefresh: true, rejectedToken: token.accessToken });
      if (fresh.accessToken === token.accessToken) throw err;
      token = fresh;
      provider = this.opts.build(token.accessToken);
      await provider.connect();
    }
    this.tokenExpiresAt = token.expiresAt;
    return provider;
  }

  async disconnect(): Promise<void> {
    const inner = this.inner;
    this.inner = null;
    await inner?.disconnect();
  }

  private requireInner(): MailProvider {
    if (!this.inner) throw new MailError("network", "The connection is closed.");
    return this.inner;
  }

  fetchNew(opts: { maxCount: number; maxBytes: number }): Promise<FetchBatch> {
    return this.requireInner().fetchNew(opts);
  }

  listRecent(opts: { since: Date; limit: number }): Promise<string[]> {
    return this.requireInner().listRecent(opts);
  }

  fetchByIds(ids: string[], opts: { maxBytes: number }): Promise<FetchedMessage[]> {
    return this.requireInner().fetchByIds(ids, opts);
  }

  applyAfterIngest(providerMessageIds: string[]): Promise<void> {
    return this.requireInner().applyAfterIngest(providerMessageIds);
  }

  async countStartCandidates(opts: { since?: Date }): Promise<StartCandidateCounts> {
    const inner = this.requireInner();
    if (!inner.countStartCandidates) throw new MailError("config", "This provider cannot count messages.");
    return inner.countStartCandidates(opts);
  }

  /** Milliseconds until the session should be renewed, or null when the token's expiry is unknown. */
  private renewDelayMs(): number | null {
    if (!this.tokenExpiresAt) return null;
    const left = this.tokenExpiresAt.getTime() - Date.now();
    const skew = this.opts.renewBeforeMs;
    // Half the remaining lifetime at least, so a short-lived token can't make it reconnect in a loop.
    return Math.max(left - skew, left / 2, 1000);
  }

  async waitForChange({ timeoutMs, signal }: { timeoutMs: number; signal: AbortSignal }): Promise<WaitResult> {
    const inner = this.inner;
    if (!inner) return "closed";
    const renewIn = this.renewDelayMs();
    if (renewIn === null || renewIn >= timeoutMs) return inner.waitForChange({ timeoutMs, signal });
    const result = await inner.waitForChange({ timeoutMs: renewIn, signal });
    if (result !== "timeout" || signal.aborted || this.inner !== inner) return signal.aborted ? "closed" : result;
    const next = await this.open();
    if (signal.aborted) {
      await next.disconnect();
      return "closed";
    }
    this.inner = next;
    this.renewals += 1;
    await inner.disconnect();
    return "changed";
  }

  getHealthStatus(): ProviderHealth {
    return this.inner?.getHealthStatus() ?? { connected: false, lastActivityAt: null, lastError: null };
  }
}
