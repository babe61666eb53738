ALTER TYPE "public"."mailbox_status" ADD VALUE 'paused';--> statement-breakpoint
CREATE TABLE "alert_deliveries" (
	"notification_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"email" text NOT NULL,
	"locale" text NOT NULL,
	"sent_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "alert_notifications" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"mailbox_id" uuid,
	"kind" text NOT NULL,
	"code" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"mailed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "mailbox_alerts" (
	"mailbox_id" uuid PRIMARY KEY NOT NULL,
	"observed" text DEFAULT 'healthy' NOT NULL,
	"observed_code" text,
	"failing_since" timestamp with time zone,
	"healthy_since" timestamp with time zone,
	"alerted" text DEFAULT 'ok' NOT NULL,
	"alerted_code" text,
	"alerted_at" timestamp with time zone,
	"due_at" timestamp with time zone,
	"quiet_warned_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "last_error_code" text;--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "quiet_alert" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "locale" text DEFAULT 'en' NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "alert_email" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "alert_deliveries" ADD CONSTRAINT "alert_deliveries_notification_id_alert_notifications_id_fk" FOREIGN KEY ("notification_id") REFERENCES "public"."alert_notifications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_deliveries" ADD CONSTRAINT "alert_deliveries_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_notifications" ADD CONSTRAINT "alert_notifications_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_notifications" ADD CONSTRAINT "alert_notifications_mailbox_id_mailboxes_id_fk" FOREIGN KEY ("mailbox_id") REFERENCES "public"."mailboxes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mailbox_alerts" ADD CONSTRAINT "mailbox_alerts_mailbox_id_mailboxes_id_fk" FOREIGN KEY ("mailbox_id") REFERENCES "public"."mailboxes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "alert_deliveries_key" ON "alert_deliveries" USING btree ("notification_id","user_id");--> statement-breakpoint
CREATE INDEX "alert_notifications_tenant_idx" ON "alert_notifications" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "alert_notifications_unmailed_idx" ON "alert_notifications" USING btree ("created_at") WHERE "alert_notifications"."mailed_at" IS NULL;--> statement-breakpoint
CREATE INDEX "mailbox_alerts_due_idx" ON "mailbox_alerts" USING btree ("due_at") WHERE "mailbox_alerts"."due_at" IS NOT NULL;