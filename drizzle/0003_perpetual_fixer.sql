ALTER TYPE "public"."message_status" ADD VALUE 'too_large';--> statement-breakpoint
ALTER TABLE "ingested_messages" ADD COLUMN "content_hash" text;--> statement-breakpoint
ALTER TABLE "ingested_messages" ADD COLUMN "warnings" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "ingested_messages" ADD COLUMN "lease_owner" text;--> statement-breakpoint
ALTER TABLE "ingested_messages" ADD COLUMN "lease_expires_at" timestamp with time zone;--> statement-breakpoint
CREATE UNIQUE INDEX "ingested_messages_mailbox_content_hash_key" ON "ingested_messages" USING btree ("mailbox_id","content_hash");