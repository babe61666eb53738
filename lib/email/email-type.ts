import { z } from "zod";
import { AppError } from "@/lib/errors";

/** The two mailboxes a tenant connects; the API's `email_type` and the schema's `purpose`. */
export const EMAIL_TYPES = ["booking", "stopsale"] as const;
export const emailTypeSchema = z.enum(EMAIL_TYPES);
export type EmailType = z.infer<typeof emailTypeSchema>;

/** For path segments and query values: anything but the two known types is the client's mistake. */
export function parseEmailType(value: unknown): EmailType {
  const result = emailTypeSchema.safeParse(value);
  if (!result.success) {
    throw new AppError(400, "invalid_email_type", 'email_type must be "booking" or "stopsale".', {
      fields: { email_type: 'Must be "booking" or "stopsale".' },
    });
  }
  return result.data;
}
