import { z } from "zod";

export const webhookEventTypeSchema = z.enum(["message.received", "mailbox.status_changed"]);

/** 0 = only the signed raw link; at most 5 MiB inline (base64 grows it by a third). */
const inlineRaw = z.number().int().min(0).max(5 * 1024 * 1024);

export const createWebhookSchema = z.object({
  url: z.string().trim().min(1).max(2000),
  event_types: z.array(webhookEventTypeSchema).min(1).default(["message.received", "mailbox.status_changed"]),
  inline_raw_max_bytes: inlineRaw.default(0),
});

export const updateWebhookSchema = z
  .object({
    url: z.string().trim().min(1).max(2000),
    event_types: z.array(webhookEventTypeSchema).min(1),
    inline_raw_max_bytes: inlineRaw,
    enabled: z.boolean(),
  })
  .partial();

export const deliveryListQuerySchema = z.object({
  status: z.enum(["pending", "succeeded", "failed"]).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const rawLinkQuerySchema = z.object({
  expires: z.coerce.number().int().positive(),
  token: z.string().min(10).max(200),
});

export const uuidSchema = z.uuid();
