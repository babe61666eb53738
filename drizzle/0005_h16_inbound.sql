ALTER TYPE "public"."mail_access" ADD VALUE 'forwarding';--> statement-breakpoint
ALTER TYPE "public"."mail_provider" ADD VALUE 'forwarding';--> statement-breakpoint
ALTER TABLE "ingested_messages" ADD COLUMN "auth_results" jsonb;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "forwarding_token" text;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "forwarding_allowed_senders" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "forwarding_refuse_dmarc_fail" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "forwarding_verification" jsonb;--> statement-breakpoint
CREATE UNIQUE INDEX "mailboxes_forwarding_token_key" ON "mailboxes" USING btree ("forwarding_token");