CREATE TYPE "public"."mailbox_kind" AS ENUM('own', 'shared', 'app_only', 'delegated');--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "mailbox_kind" "mailbox_kind" DEFAULT 'own' NOT NULL;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "service_account_key_encrypted" text;