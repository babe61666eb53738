CREATE TYPE "public"."mailbox_after_ingest" AS ENUM('mark_read', 'none', 'move');--> statement-breakpoint
CREATE TYPE "public"."mailbox_start_mode" AS ENUM('unread', 'since', 'new_only');--> statement-breakpoint
ALTER TYPE "public"."message_status" ADD VALUE 'too_large';--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "start_mode" "mailbox_start_mode" DEFAULT 'unread' NOT NULL;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "start_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "after_ingest" "mailbox_after_ingest" DEFAULT 'mark_read' NOT NULL;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "move_to_folder" text;