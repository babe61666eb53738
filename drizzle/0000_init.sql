CREATE TYPE "public"."auth_method" AS ENUM('password', 'app_password', 'oauth2');--> statement-breakpoint
CREATE TYPE "public"."mail_access" AS ENUM('imap', 'pop3', 'gmail_api', 'graph_api');--> statement-breakpoint
CREATE TYPE "public"."mail_provider" AS ENUM('imap', 'google', 'microsoft');--> statement-breakpoint
CREATE TYPE "public"."mailbox_event_kind" AS ENUM('connected', 'disconnected', 'error', 'auth_failed', 'token_refreshed', 'synced');--> statement-breakpoint
CREATE TYPE "public"."mailbox_purpose" AS ENUM('booking', 'stopsale');--> statement-breakpoint
CREATE TYPE "public"."mailbox_status" AS ENUM('connecting', 'connected', 'disconnected', 'error', 'needs_reauth');--> statement-breakpoint
CREATE TYPE "public"."message_status" AS ENUM('queued', 'processing', 'processed', 'failed');--> statement-breakpoint
CREATE TYPE "public"."user_role" AS ENUM('admin', 'viewer');--> statement-breakpoint
CREATE TABLE "ingested_messages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"mailbox_id" uuid,
	"purpose" "mailbox_purpose" NOT NULL,
	"provider_message_id" text NOT NULL,
	"message_id" text,
	"from_address" text,
	"to_addresses" text,
	"subject" text,
	"sent_at" timestamp with time zone,
	"received_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"raw" "bytea" NOT NULL,
	"size" integer NOT NULL,
	"text_body" text,
	"html_body" text,
	"attachments" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"status" "message_status" DEFAULT 'queued' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"error" text,
	"processing_ms" integer,
	"processed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "login_attempts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"attempted_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mailbox_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"mailbox_id" uuid NOT NULL,
	"kind" "mailbox_event_kind" NOT NULL,
	"message" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mailboxes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"purpose" "mailbox_purpose" NOT NULL,
	"provider" "mail_provider" DEFAULT 'imap' NOT NULL,
	"access" "mail_access" DEFAULT 'imap' NOT NULL,
	"host" text,
	"port" integer DEFAULT 993 NOT NULL,
	"address" text,
	"username" text,
	"use_ssl" boolean DEFAULT true NOT NULL,
	"allow_invalid_certificate" boolean DEFAULT false NOT NULL,
	"auth_method" "auth_method" DEFAULT 'password' NOT NULL,
	"password_encrypted" text,
	"use_idle" boolean DEFAULT true NOT NULL,
	"folder" text DEFAULT 'INBOX' NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"poll_interval_seconds" integer DEFAULT 60 NOT NULL,
	"delete_after_ingest" boolean DEFAULT false NOT NULL,
	"oauth_provider" "mail_provider",
	"oauth_client_id" text,
	"oauth_client_secret_encrypted" text,
	"oauth_tenant_id" text,
	"oauth_access_token_encrypted" text,
	"oauth_refresh_token_encrypted" text,
	"oauth_token_expiry" timestamp with time zone,
	"oauth_scopes" text[] DEFAULT '{}'::text[] NOT NULL,
	"oauth_connected_email" text,
	"status" "mailbox_status" DEFAULT 'disconnected' NOT NULL,
	"status_changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_success_at" timestamp with time zone,
	"last_error" text,
	"last_error_at" timestamp with time zone,
	"backlog" integer DEFAULT 0 NOT NULL,
	"sync_state" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"config_version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "oauth_flows" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"session_id" text NOT NULL,
	"provider" "mail_provider" NOT NULL,
	"purpose" "mailbox_purpose" NOT NULL,
	"access" "mail_access" NOT NULL,
	"code_verifier_encrypted" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"is_active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"email" text NOT NULL,
	"password_hash" text NOT NULL,
	"role" "user_role" DEFAULT 'admin' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "watcher_replicas" (
	"id" text PRIMARY KEY NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"heartbeat_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "ingested_messages" ADD CONSTRAINT "ingested_messages_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ingested_messages" ADD CONSTRAINT "ingested_messages_mailbox_id_mailboxes_id_fk" FOREIGN KEY ("mailbox_id") REFERENCES "public"."mailboxes"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mailbox_events" ADD CONSTRAINT "mailbox_events_mailbox_id_mailboxes_id_fk" FOREIGN KEY ("mailbox_id") REFERENCES "public"."mailboxes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD CONSTRAINT "mailboxes_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "oauth_flows" ADD CONSTRAINT "oauth_flows_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "ingested_messages_mailbox_provider_id_key" ON "ingested_messages" USING btree ("mailbox_id","provider_message_id");--> statement-breakpoint
CREATE INDEX "ingested_messages_tenant_received_idx" ON "ingested_messages" USING btree ("tenant_id","received_at");--> statement-breakpoint
CREATE INDEX "ingested_messages_status_idx" ON "ingested_messages" USING btree ("status");--> statement-breakpoint
CREATE INDEX "login_attempts_key_idx" ON "login_attempts" USING btree ("key","attempted_at");--> statement-breakpoint
CREATE INDEX "mailbox_events_mailbox_time_idx" ON "mailbox_events" USING btree ("mailbox_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "mailboxes_tenant_purpose_key" ON "mailboxes" USING btree ("tenant_id","purpose");--> statement-breakpoint
CREATE INDEX "sessions_user_idx" ON "sessions" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "users_email_key" ON "users" USING btree (lower("email"));