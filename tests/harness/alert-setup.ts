/**
 * What the admin-alert suites share: the watcher's alert timings scaled down (grace 3 s, recovery
 * 2 s, cool-down 10 min, scan every 1 s, sign-in retry every 1 s), a tenant with admins in each
 * language plus one who opted out and a viewer, and readers for the mails the SMTP sink caught.
 */
import type { SinkMail, SmtpSink } from "./smtp-sink";

export const ALERT_ENV = {
  ALERT_GRACE_SECONDS: "3",
  ALERT_RECOVERY_SECONDS: "2",
  ALERT_COOLDOWN_SECONDS: "600",
  ALERT_SCAN_SECONDS: "1",
  EMAIL_AUTH_RETRY_SECONDS: "1",
  EMAIL_BACKOFF_MIN_SECONDS: "1",
  EMAIL_BACKOFF_MAX_SECONDS: "1",
  JOBS_POLL_MS: "500",
  APP_URL: "https://app.hotel.test",
  ALERT_FROM: "Mailbox alerts <alerts@app.test>",
} as const;

/** Mails about one mailbox address. */
export async function alertMailsFor(sink: SmtpSink, address: string): Promise<SinkMail[]> {
  return (await sink.messages()).filter((m) => m.subject.includes(address));
}

export const alertKindOf = (m: SinkMail): string => String(m.headers.get("x-alert-kind"));

/** The mails as sorted "recipient kind" strings. */
export const summariseAlerts = (mails: SinkMail[]): string[] => mails.map((m) => `${m.envelopeTo.join(",")} ${alertKindOf(m)}`).sort();

/**
 * "Hotel Ada": admins en-admin (en), tr-admin (tr), quiet-admin (alert mail off), and a viewer.
 * The data layer is imported lazily, after useFreshDatabase set DATABASE_URL.
 */
export async function seedAlertTenant(): Promise<{ tenantId: string }> {
  const { createTenant } = await import("@/lib/db/queries/tenants");
  const { createUser, updateAlertPreferences } = await import("@/lib/db/queries/users");
  const tenant = await createTenant({ name: "Hotel Ada" });
  const tenantId = tenant.id;
  const en = await createUser({ tenantId, email: "en-admin@hotel.test", passwordHash: "x", role: "admin" });
  const tr = await createUser({ tenantId, email: "tr-admin@hotel.test", passwordHash: "x", role: "admin" });
  const off = await createUser({ tenantId, email: "quiet-admin@hotel.test", passwordHash: "x", role: "admin" });
  await createUser({ tenantId, email: "viewer@hotel.test", passwordHash: "x", role: "viewer" });
  await updateAlertPreferences({ userId: en.id, patch: { locale: "en" } });
  await updateAlertPreferences({ userId: tr.id, patch: { locale: "tr" } });
  await updateAlertPreferences({ userId: off.id, patch: { alertEmail: false } });
  return { tenantId };
}
