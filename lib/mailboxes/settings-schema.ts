import { z } from "zod";
import { TLS_MODES } from "@/lib/email/mail-socket/tls-mode";

/** Default ports per protocol and TLS mode, used by the form and when a client omits the port. */
export const DEFAULT_PORTS = {
  imap: { ssl: 993, plain: 143 },
  pop3: { ssl: 995, plain: 110 },
} as const;

const hostname = z
  .string()
  .trim()
  .min(1, "Enter the mail server's host name.")
  .max(253, "The host name is too long.")
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?)$/, "Enter a host name like imap.example.com, without protocol or path.");

/**
 * PUT /api/tenant/email/settings/{email_type} and the settings form share this schema.
 * An omitted (or empty) password keeps the stored one, unless host, port, TLS mode, protocol or
 * username change: then the password must be sent again (mailbox-settings.ts).
 */
const mailboxSettingsFields = z
  .object({
    protocol: z.enum(["imap", "pop3"]).default("imap"),
    host: hostname,
    port: z.coerce.number().int("Port must be a whole number.").min(1, "Port must be between 1 and 65535.").max(65535, "Port must be between 1 and 65535."),
    address: z.string().trim().max(254).pipe(z.email("Enter a valid email address.")),
    username: z.string().trim().max(254, "The username is too long.").optional(),
    password: z.string().max(1024, "The password is too long.").optional(),
    /** implicit | starttls (required) | none (plaintext). Wins over use_ssl, which older clients send. */
    tls_mode: z.enum(TLS_MODES, "Choose implicit, starttls or none.").optional(),
    /** Kept for compatibility: true = implicit TLS, false = STARTTLS (required). Used only without tls_mode. */
    use_ssl: z.boolean().optional(),
    allow_invalid_certificate: z.boolean().default(false),
    auth_method: z.enum(["password", "app_password", "oauth2"]).default("password"),
    use_idle: z.boolean().default(true),
    folder: z.string().trim().min(1, "Enter a folder name, for example INBOX.").max(255).default("INBOX"),
    enabled: z.boolean().default(true),
    poll_interval_seconds: z.coerce.number().int().min(10, "Poll at most every 10 seconds.").max(3600, "Poll at least once an hour.").default(60),
    delete_after_ingest: z.boolean().default(false),
    /**
     * Where a new mailbox starts on its first connect: its unread mail, mail received since
     * start_since, or only mail arriving from now on. Used once: changing it after the mailbox has
     * started does not import again (the stored cursor decides from then on).
     */
    start_mode: z.enum(["unread", "since", "new_only"], "Choose unread, since or new_only.").default("unread"),
    // The form's date input sends "" when empty.
    start_since: z.preprocess((v) => (v === "" ? null : v), z.coerce.date("Enter a valid date.").nullable()).optional(),
    /** What happens at the provider after a message is stored. */
    after_ingest: z.enum(["mark_read", "none", "move"], "Choose mark_read, none or move.").default("mark_read"),
    move_to_folder: z
      .string()
      .trim()
      .max(255, "The folder name is too long.")
      .nullable()
      .optional()
      .transform((v) => (v ? v : null)),
  })
  .strict();

type StartAndAfterFields = {
  start_mode?: "unread" | "since" | "new_only" | undefined;
  start_since?: Date | null | undefined;
  after_ingest?: "mark_read" | "none" | "move" | undefined;
  move_to_folder?: string | null | undefined;
};

/** Rules across fields, each reported on the field the admin must fix. */
function checkStartAndAfter(value: StartAndAfterFields, ctx: z.RefinementCtx): void {
  if (value.start_mode === "since" && !value.start_since) {
    ctx.addIssue({ code: "custom", path: ["start_since"], message: "Choose the date to import mail from." });
  }
  if (value.after_ingest === "move" && !value.move_to_folder) {
    ctx.addIssue({ code: "custom", path: ["move_to_folder"], message: "Enter the folder to move stored messages to." });
  }
}

export const mailboxSettingsSchema = mailboxSettingsFields.superRefine(checkStartAndAfter);

export type MailboxSettingsInput = z.input<typeof mailboxSettingsSchema>;
export type MailboxSettings = z.output<typeof mailboxSettingsSchema>;

/** The test endpoint accepts the same body, all optional: missing fields come from the saved settings. */
export const mailboxTestSchema = mailboxSettingsFields.partial();
export type MailboxTestInput = z.output<typeof mailboxTestSchema>;

/**
 * PUT settings for a forwarding mailbox (issue 16): told apart from the IMAP/POP3 body by
 * `access: "forwarding"`. No server, no password: the address is generated and shown.
 */
export const forwardingSettingsSchema = z
  .object({
    access: z.literal("forwarding"),
    provider: z.literal("forwarding").optional(),
    /** The mailbox being forwarded (shown to the admin; not used for delivery). */
    address: z
      .string()
      .trim()
      .max(254)
      .optional()
      .transform((v) => (v ? v : undefined))
      .pipe(z.email("Enter a valid email address.").optional()),
    enabled: z.boolean().default(true),
    /** Sender domains ("example.com") or addresses; empty: everyone may send. */
    allowed_senders: z
      .array(
        z
          .string()
          .trim()
          .toLowerCase()
          .max(254, "An entry is too long.")
          .regex(/^(@?[a-z0-9.-]+\.[a-z0-9-]+|[^\s@]+@[a-z0-9.-]+\.[a-z0-9-]+)$/, "Enter a domain like example.com or an address like rez@example.com."),
      )
      .max(200, "At most 200 allowed senders.")
      .default([]),
    refuse_dmarc_fail: z.boolean().default(false),
  })
  .strict();

export type ForwardingSettings = z.output<typeof forwardingSettingsSchema>;

/** A settings body that asks for a forwarding mailbox. */
export function isForwardingBody(body: unknown): boolean {
  return typeof body === "object" && body !== null && (body as { access?: unknown }).access === "forwarding";
}

/* ------------------------------------------------------------------------------------------------
 * Organisation mailboxes (issue 18): PUT /api/tenant/email/organisation/{email_type}
 * ---------------------------------------------------------------------------------------------- */

/** Kinds of the Microsoft and Google connections; `own` and `shared` connect by sign-in (OAuth). */
export const MICROSOFT_MAILBOX_KINDS = ["own", "shared", "app_only"] as const;
export const GOOGLE_MAILBOX_KINDS = ["own", "delegated"] as const;

/** The first-connect and after-ingest choices every organisation mailbox shares with the others. */
const organisationCommon = {
  address: z.string().trim().max(254).pipe(z.email("Enter the mailbox's email address.")),
  folder: z.string().trim().min(1, "Enter a folder name, for example INBOX.").max(255).default("INBOX"),
  enabled: z.boolean().default(true),
  start_mode: z.enum(["unread", "since", "new_only"], "Choose unread, since or new_only.").default("unread"),
  start_since: z.preprocess((v) => (v === "" ? null : v), z.coerce.date("Enter a valid date.").nullable()).optional(),
  after_ingest: z.enum(["mark_read", "none", "move"], "Choose mark_read, none or move.").default("mark_read"),
  move_to_folder: z.string().trim().max(255, "The folder name is too long.").nullable().optional().transform((v) => (v ? v : null)),
};

const organisationMailboxFields = z.discriminatedUnion("mailbox_kind", [
  z
    .object({
      /** Microsoft Graph with client credentials: the tenant's Entra app with Mail.ReadWrite (application). */
      mailbox_kind: z.literal("app_only"),
      ...organisationCommon,
      tenant_id: z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9.-]{0,99}$/, "Enter the Entra tenant id (a GUID) or its domain, e.g. contoso.onmicrosoft.com."),
      client_id: z.string().trim().min(1, "Enter the application (client) id.").max(255),
      /** Omitted or empty: keep the stored secret of the same app. */
      client_secret: z.string().max(1024, "The client secret is too long.").optional(),
    })
    .strict(),
  z
    .object({
      /** Google Workspace domain-wide delegation: a service account key with gmail.modify delegated. */
      mailbox_kind: z.literal("delegated"),
      ...organisationCommon,
      /** The key file's JSON text. Omitted or empty: keep the stored key. Never returned. */
      service_account_key: z.string().max(20_000, "The key file is too large.").optional(),
    })
    .strict(),
]);

export const organisationMailboxSchema = organisationMailboxFields.superRefine(checkStartAndAfter);
export type OrganisationMailboxInput = z.input<typeof organisationMailboxSchema>;
export type OrganisationMailboxSettings = z.output<typeof organisationMailboxSchema>;

/** POST /api/oauth/microsoft/authorize: `mailbox_kind: "shared"` with the shared mailbox's address. */
export const sharedMailboxAddressSchema = z.string().trim().max(254).pipe(z.email("Enter the shared mailbox's email address."));
