import { getSecretBox } from "@/lib/crypto/secret-box";
import type { Mailbox } from "@/lib/db/schema";
import { OAUTH_PROVIDER_SPECS, platformApp, PROVIDER_LABEL, type OAuthApp, type OAuthProviderName } from "./providers";

/**
 * The app registration a connected mailbox uses for refresh and revoke: its own when the tenant
 * brought one (client id + encrypted secret + Microsoft tenant), else the platform's. The
 * Microsoft tenant saved on the mailbox applies to the platform app too. Null when neither exists.
 */
export function appForMailbox(
  provider: OAuthProviderName,
  mailbox: Pick<Mailbox, "oauthClientId" | "oauthClientSecretEncrypted" | "oauthTenantId">,
): OAuthApp | null {
  const tenantId = OAUTH_PROVIDER_SPECS[provider].hasDirectoryTenant ? mailbox.oauthTenantId : null;
  if (mailbox.oauthClientId) {
    return {
      clientId: mailbox.oauthClientId,
      clientSecret: mailbox.oauthClientSecretEncrypted ? getSecretBox().decrypt(mailbox.oauthClientSecretEncrypted) : null,
      tenantId,
      custom: true,
    };
  }
  const app = platformApp(provider);
  return app ? { ...app, tenantId } : null;
}

export function notConfiguredMessage(provider: OAuthProviderName): string {
  return `${PROVIDER_LABEL[provider]} sign-in is not configured on this server: set the ${OAUTH_PROVIDER_SPECS[provider].envPrefix}_OAUTH_CLIENT_ID / _CLIENT_SECRET variables, or enter your own app's client id and secret.`;
}
