CREATE TYPE "public"."mail_tls_mode" AS ENUM('implicit', 'starttls', 'none');--> statement-breakpoint
CREATE TYPE "public"."mailbox_after_ingest" AS ENUM('mark_read', 'none', 'move');--> statement-breakpoint
CREATE TYPE "public"."mailbox_start_mode" AS ENUM('unread', 'since', 'new_only');--> statement-breakpoint
ALTER TYPE "public"."message_status" ADD VALUE 'too_large';--> statement-breakpoint
CREATE TABLE "pop3_skipped_uids" (
	"mailbox_id" uuid NOT NULL,
	"uid" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "ingested_messages" ADD COLUMN "content_hash" text;--> statement-breakpoint
ALTER TABLE "ingested_messages" ADD COLUMN "warnings" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "ingested_messages" ADD COLUMN "lease_owner" text;--> statement-breakpoint
ALTER TABLE "ingested_messages" ADD COLUMN "lease_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "tls_mode" "mail_tls_mode";--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "start_mode" "mailbox_start_mode" DEFAULT 'unread' NOT NULL;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "start_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "after_ingest" "mailbox_after_ingest" DEFAULT 'mark_read' NOT NULL;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "move_to_folder" text;--> statement-breakpoint
ALTER TABLE "pop3_skipped_uids" ADD CONSTRAINT "pop3_skipped_uids_mailbox_id_mailboxes_id_fk" FOREIGN KEY ("mailbox_id") REFERENCES "public"."mailboxes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "pop3_skipped_uids_key" ON "pop3_skipped_uids" USING btree ("mailbox_id","uid");--> statement-breakpoint
CREATE UNIQUE INDEX "ingested_messages_mailbox_content_hash_key" ON "ingested_messages" USING btree ("mailbox_id","content_hash");