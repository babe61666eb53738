/**
 * An OAuth mailbox read through the Gmail API or Microsoft Graph, with a stored access token valid
 * for an hour (no refresh needed), in a tenant of its own. The data layer is imported lazily, so
 * callers can set DATABASE_URL (useFreshDatabase, startBenchDatabase) before it reads the env.
 */
export async function createApiMailbox({
  provider,
  email,
  token,
  fields = {},
}: {
  provider: "google" | "microsoft";
  email: string;
  token: string;
  /** Extra mailbox columns, e.g. startMode, startSince, afterIngest, moveToFolder (issue 13). */
  fields?: { startMode?: "unread" | "since" | "new_only"; startSince?: Date; afterIngest?: "mark_read" | "none" | "move"; moveToFolder?: string };
}): Promise<{ mailboxId: string; tenantId: string }> {
  const { getSecretBox } = await import("@/lib/crypto/secret-box");
  const { createTenant } = await import("@/lib/db/queries/tenants");
  const { saveMailbox } = await import("@/lib/db/queries/mailboxes");
  const tenant = await createTenant({ name: `API ${provider} ${email}` });
  const box = getSecretBox();
  const row = await saveMailbox({
    tenantId: tenant.id,
    purpose: "booking",
    fields: {
      provider,
      access: provider === "google" ? "gmail_api" : "graph_api",
      address: email,
      authMethod: "oauth2",
      oauthProvider: provider,
      oauthAccessTokenEncrypted: box.encrypt(token),
      oauthRefreshTokenEncrypted: box.encrypt(`refresh-${token}`),
      oauthTokenExpiry: new Date(Date.now() + 3600_000),
      oauthConnectedEmail: email,
      folder: "INBOX",
      enabled: true,
      ...fields,
    },
  });
  return { mailboxId: row.id, tenantId: tenant.id };
}
