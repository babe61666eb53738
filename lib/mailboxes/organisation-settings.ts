import { getSecretBox } from "@/lib/crypto/secret-box";
import { recordMailboxEvent } from "@/lib/db/queries/mailbox-events";
import { getMailbox, saveMailbox } from "@/lib/db/queries/mailboxes";
import type { Mailbox } from "@/lib/db/schema";
import { AppError } from "@/lib/errors";
import { describeServiceAccountKey, parseServiceAccountKey, type ServiceAccountKey } from "@/lib/oauth/org-tokens";
import { requestOrgToken, type OrgMailbox } from "@/lib/oauth/org-token-source";
import type { EmailType } from "@/lib/email/email-type";
import { toMailboxConfig, type MailboxConfig } from "./mailbox-config";
import { MailError } from "@/lib/email/provider";
import type { OrganisationMailboxSettings } from "./settings-schema";

function fieldError(field: string, message: string, code = "validation_failed"): AppError {
  return new AppError(400, code, message, { fields: { [field]: message } });
}

/** Which field an admin must fix when the token endpoint refuses. */
function refusalField(kind: "app_only" | "delegated", message: string): string {
  if (kind === "delegated") return /address|user of the Workspace/i.test(message) ? "address" : "service_account_key";
  if (/tenant/i.test(message) && !/application/i.test(message)) return "tenant_id";
  if (/secret/i.test(message)) return "client_secret";
  return "client_id";
}

/**
 * Saves an app-only Graph or a domain-wide-delegation Gmail mailbox (issue 18). The credentials are
 * tried at once (one token request), so a wrong secret or a missing delegation is a field error
 * here rather than a needs_reauth a minute later. A stored secret or key is reused only for the
 * same app / service account (as passwords are reused only for the same server).
 */
export async function saveOrganisationMailbox({
  tenantId,
  emailType,
  input,
  verify = requestOrgToken,
}: {
  tenantId: string;
  emailType: EmailType;
  input: OrganisationMailboxSettings;
  /** Tests may replace the token request; the default asks the provider. */
  verify?: (mailbox: OrgMailbox) => Promise<unknown>;
}): Promise<MailboxConfig> {
  const existing = await getMailbox({ tenantId, purpose: emailType });
  const box = getSecretBox();
  const sameKind = existing?.mailboxKind === input.mailbox_kind;
  let fields: Partial<Mailbox>;
  let candidate: OrgMailbox;
  if (input.mailbox_kind === "app_only") {
    const sameApp = sameKind && existing.oauthClientId === input.client_id && existing.oauthTenantId?.toLowerCase() === input.tenant_id.toLowerCase();
    const secretEncrypted = input.client_secret ? box.encrypt(input.client_secret) : sameApp ? existing.oauthClientSecretEncrypted : null;
    if (!secretEncrypted) throw fieldError("client_secret", "Enter the app's client secret.");
    fields = {
      provider: "microsoft",
      access: "graph_api",
      oauthProvider: "microsoft",
      oauthTenantId: input.tenant_id,
      oauthClientId: input.client_id,
      oauthClientSecretEncrypted: secretEncrypted,
      serviceAccountKeyEncrypted: null,
      username: null,
      oauthConnectedEmail: null,
    };
    candidate = { id: existing?.id ?? "new", mailboxKind: "app_only", address: input.address, oauthClientId: input.client_id, oauthTenantId: input.tenant_id, oauthClientSecretEncrypted: secretEncrypted, serviceAccountKeyEncrypted: null };
  } else {
    let key: ServiceAccountKey | null = null;
    let keyEncrypted: string | null = null;
    if (input.service_account_key) {
      try {
        key = parseServiceAccountKey(input.service_account_key);
      } catch (err) {
        throw fieldError("service_account_key", err instanceof MailError ? err.message : "The service account key is not valid.");
      }
      keyEncrypted = box.encrypt(JSON.stringify(key));
    } else if (sameKind && existing.serviceAccountKeyEncrypted) {
      keyEncrypted = existing.serviceAccountKeyEncrypted;
      key = parseServiceAccountKey(box.decrypt(keyEncrypted));
    }
    if (!key || !keyEncrypted) throw fieldError("service_account_key", "Upload the service account's JSON key.");
    const described = describeServiceAccountKey(key);
    fields = {
      provider: "google",
      access: "gmail_api",
      oauthProvider: "google",
      oauthTenantId: null,
      // The service account's client id (what the Workspace admin authorises) and address, shown in the card.
      oauthClientId: described.client_id,
      oauthClientSecretEncrypted: null,
      serviceAccountKeyEncrypted: keyEncrypted,
      username: described.client_email,
      // Gmail push notifications name the mailbox address; they are routed by this column.
      oauthConnectedEmail: input.address,
    };
    candidate = { id: existing?.id ?? "new", mailboxKind: "delegated", address: input.address, oauthClientId: described.client_id, oauthTenantId: null, oauthClientSecretEncrypted: null, serviceAccountKeyEncrypted: keyEncrypted };
  }

  try {
    await verify(candidate);
  } catch (err) {
    if (err instanceof MailError && err.code === "network") {
      throw new AppError(502, "provider_unreachable", err.message);
    }
    if (err instanceof MailError) throw fieldError(refusalField(input.mailbox_kind, err.message), err.message, "credentials_rejected");
    throw err;
  }

  // A different mailbox, kind or app starts over: the old cursor belongs to something else.
  const sameMailbox = sameKind && existing.address?.toLowerCase() === input.address.toLowerCase() && existing.oauthClientId === fields.oauthClientId;
  const row = await saveMailbox({
    tenantId,
    purpose: emailType,
    fields: {
      ...fields,
      mailboxKind: input.mailbox_kind,
      address: input.address,
      host: null,
      port: 993,
      passwordEncrypted: null,
      authMethod: "oauth2",
      oauthAccessTokenEncrypted: null,
      oauthRefreshTokenEncrypted: null,
      oauthTokenExpiry: null,
      oauthScopes: input.mailbox_kind === "app_only" ? ["https://graph.microsoft.com/.default"] : ["https://www.googleapis.com/auth/gmail.modify"],
      folder: input.folder,
      enabled: input.enabled,
      startMode: input.start_mode,
      startSince: input.start_mode === "since" ? (input.start_since ?? null) : null,
      afterIngest: input.after_ingest,
      moveToFolder: input.after_ingest === "move" ? (input.move_to_folder ?? null) : null,
      ...(sameMailbox ? {} : { syncState: {} }),
    },
  });
  await recordMailboxEvent({
    mailboxId: row.id,
    kind: "connected",
    message: input.mailbox_kind === "app_only" ? `Connected ${input.address} with app-only Microsoft Graph access.` : `Connected ${input.address} by Google Workspace domain-wide delegation.`,
  });
  return toMailboxConfig(row, 0);
}
