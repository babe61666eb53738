ALTER TABLE "mailboxes" ADD COLUMN "lock_key" serial NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "mailboxes_lock_key" ON "mailboxes" USING btree ("lock_key");