CREATE TYPE "public"."mail_tls_mode" AS ENUM('implicit', 'starttls', 'none');--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "tls_mode" "mail_tls_mode";