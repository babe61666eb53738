import { runInTransaction } from "@/lib/db/queries/job-queue";
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  resetDeliveryForReplay,
  updateWebhookEndpoint,
  type DeliveryLogRow,
  type WebhookEventType,
} from "@/lib/db/queries/webhooks";
import type { WebhookEndpoint } from "@/lib/db/schema";
import { getSecretBox } from "@/lib/crypto/secret-box";
import { getEnv } from "@/lib/env";
import { AppError, notFound } from "@/lib/errors";
import { sendJob } from "@/lib/jobs/job-queue";
import { checkWebhookUrl, WebhookUrlError } from "./post-webhook";
import { generateWebhookSecret } from "./secret";
import { webhookDeliverySpec } from "./webhook-queue";

/** What the API and UI see of an endpoint: never the secret. */
export type WebhookEndpointView = {
  id: string;
  url: string;
  eventTypes: string[];
  inlineRawMaxBytes: number;
  enabled: boolean;
  secretRotatedAt: string;
  createdAt: string;
};

function toView(e: WebhookEndpoint): WebhookEndpointView {
  return {
    id: e.id,
    url: e.url,
    eventTypes: e.eventTypes,
    inlineRawMaxBytes: e.inlineRawMaxBytes,
    enabled: e.enabled,
    secretRotatedAt: e.secretRotatedAt.toISOString(),
    createdAt: e.createdAt.toISOString(),
  };
}

async function checkedUrl(url: string): Promise<string> {
  try {
    return (await checkWebhookUrl(url, { allowPrivate: getEnv().MAIL_ALLOW_PRIVATE_HOSTS })).toString();
  } catch (err) {
    if (err instanceof WebhookUrlError) {
      throw new AppError(400, "webhook_url_not_allowed", err.message, { fields: { url: err.message } });
    }
    throw err;
  }
}

export async function listTenantWebhooks({ tenantId }: { tenantId: string }): Promise<WebhookEndpointView[]> {
  return (await listWebhookEndpoints({ tenantId })).map(toView);
}

/** Creates an endpoint; the returned secret is shown once and only stored encrypted. */
export async function createTenantWebhook({
  tenantId,
  url,
  eventTypes,
  inlineRawMaxBytes,
}: {
  tenantId: string;
  url: string;
  eventTypes: WebhookEventType[];
  inlineRawMaxBytes: number;
}): Promise<{ endpoint: WebhookEndpointView; secret: string }> {
  const secret = generateWebhookSecret();
  const endpoint = await createWebhookEndpoint({
    tenantId,
    url: await checkedUrl(url),
    secretEncrypted: getSecretBox().encrypt(secret),
    eventTypes,
    inlineRawMaxBytes,
  });
  return { endpoint: toView(endpoint), secret };
}

export async function updateTenantWebhook({
  tenantId,
  endpointId,
  fields,
}: {
  tenantId: string;
  endpointId: string;
  fields: { url?: string; eventTypes?: WebhookEventType[]; inlineRawMaxBytes?: number; enabled?: boolean };
}): Promise<WebhookEndpointView> {
  const { url, ...rest } = fields;
  const row = await updateWebhookEndpoint({ tenantId, endpointId, fields: { ...rest, ...(url !== undefined ? { url: await checkedUrl(url) } : {}) } });
  if (!row) throw notFound("The webhook");
  return toView(row);
}

/** A new secret, effective for the next attempt; the old one stops working at once. */
export async function rotateTenantWebhookSecret({ tenantId, endpointId }: { tenantId: string; endpointId: string }): Promise<{ secret: string }> {
  const secret = generateWebhookSecret();
  const row = await updateWebhookEndpoint({ tenantId, endpointId, fields: { secretEncrypted: getSecretBox().encrypt(secret) } });
  if (!row) throw notFound("The webhook");
  return { secret };
}

export async function deleteTenantWebhook({ tenantId, endpointId }: { tenantId: string; endpointId: string }): Promise<void> {
  if (!(await deleteWebhookEndpoint({ tenantId, endpointId }))) throw notFound("The webhook");
}

export type DeliveryLogView = Omit<DeliveryLogRow, "lastAttemptAt" | "nextAttemptAt" | "deliveredAt" | "createdAt"> & {
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  createdAt: string;
};

export async function listTenantDeliveries({
  tenantId,
  limit = 100,
  status,
}: {
  tenantId: string;
  limit?: number;
  status?: "pending" | "succeeded" | "failed";
}): Promise<DeliveryLogView[]> {
  const rows = await listWebhookDeliveries({ tenantId, limit, ...(status ? { status } : {}) });
  return rows.map((r) => ({
    ...r,
    lastAttemptAt: r.lastAttemptAt?.toISOString() ?? null,
    nextAttemptAt: r.status === "pending" ? (r.nextAttemptAt?.toISOString() ?? null) : null,
    deliveredAt: r.deliveredAt?.toISOString() ?? null,
    createdAt: r.createdAt.toISOString(),
  }));
}

/**
 * Replays a finished delivery (failed, or succeeded and wanted again): pending with a fresh day of
 * retries, its job committed with that state. Same event id, so the receiver can deduplicate.
 */
export async function replayTenantDelivery({ tenantId, deliveryId }: { tenantId: string; deliveryId: string }): Promise<void> {
  await runInTransaction(async (tx) => {
    const reset = await resetDeliveryForReplay({ tx, tenantId, deliveryId });
    if (!reset) throw new AppError(409, "delivery_not_replayable", "This delivery is not finished yet or does not exist.");
    await sendJob({ spec: webhookDeliverySpec(), data: { deliveryId, attempt: reset.attempts }, tx });
  });
}
