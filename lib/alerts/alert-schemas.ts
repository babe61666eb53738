import { z } from "zod";

/** PUT /api/account/alert-preferences: the signed-in user's alert email choice and its language. */
export const alertPreferencesSchema = z
  .object({ alert_email: z.boolean().optional(), locale: z.enum(["en", "tr"]).optional() })
  .strict();

/** PUT /api/tenant/email/settings/{email_type}/quiet-alert: the per-mailbox quiet warning. */
export const quietAlertSchema = z.object({ enabled: z.boolean() }).strict();
