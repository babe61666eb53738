import { sql } from "drizzle-orm";
import { getAlertPolicy } from "@/lib/alerts/alert-policy";
import type { MailErrorCode } from "@/lib/api/error-codes";
import { getDb } from "@/lib/db/client";
import { mailboxEvents, type MailboxEvent, type MailboxStatus } from "@/lib/db/schema";
import { isStatementRefusal } from "@/lib/db/pg-errors";
import { coalesceCalls } from "@/lib/util/coalesce-calls";
import { mapLimit } from "@/lib/util/map-limit";
import { recordMailboxStatusEvents } from "@/lib/webhooks/record-events";
import { recordAlertObservations } from "./mailbox-alerts";

export type MailboxStatusChange = {
  mailboxId: string;
  status: MailboxStatus;
  /** undefined: last_error stays; null: cleared; a text: set (with last_error_at). */
  error?: string | null;
  errorCode?: MailErrorCode | null;
  /** Also sets last_success_at. */
  success?: boolean;
  /** Mailbox events (connected, error, ...) committed with the status: one transaction, not one each. */
  events?: { kind: MailboxEvent["kind"]; message?: string | null }[];
};

/**
 * Watcher-side status change; `statusChangedAt` moves only when the status really changes. An
 * error is stored with its stable code (the UI translates the code, never the sentence). The
 * mailbox.status_changed webhook event, the alert state (issue 15) and the mailbox events commit in
 * the same transaction, so none of them misses or invents a change.
 *
 * Changes written at the same moment by different mailboxes (2,000 connects at start-up, an outage
 * that fails them all) go as one transaction of a few statements (writeMailboxStatuses); if that
 * transaction fails, each change is written again on its own, so one mailbox's problem never
 * loses another's status.
 */
export async function setMailboxStatus(change: MailboxStatusChange): Promise<void> {
  const error = await statusWriter(change);
  if (error) throw error;
}

/** Changes written one by one at once after a refused batch (each holds a pooled connection). */
const FALLBACK_CONCURRENCY = 4;

const statusWriter = coalesceCalls<MailboxStatusChange, Error | null>({
  missing: null,
  maxBatch: 500,
  run: async (changes) => {
    const outcome = new Map<MailboxStatusChange, Error | null>();
    const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
    if (changes.length > 1) {
      try {
        await writeMailboxStatuses(changes);
        for (const c of changes) outcome.set(c, null);
        return outcome;
      } catch (err) {
        // The database is not reachable: every change meets the same failure, at once (one by one
        // they would each wait out the connect timeout while later statuses queue behind them).
        if (!isStatementRefusal(err)) {
          for (const c of changes) outcome.set(c, asError(err));
          return outcome;
        }
        // Refused: written again one by one below, so the error each one meets is its own.
      }
    }
    await mapLimit(changes, FALLBACK_CONCURRENCY, async (c) => {
      outcome.set(c, await writeMailboxStatuses([c]).then(() => null, asError));
    });
    return outcome;
  },
});

/** The stored last_error_code for a change: a text error always has a code, a cleared one none. */
function storedCode({ error, errorCode }: MailboxStatusChange): string | null | undefined {
  return error ? (errorCode ?? "unknown") : error === null ? null : errorCode;
}

/**
 * Several mailboxes' status changes in ONE transaction: one UPDATE ... FROM (VALUES ...) (rows
 * locked in mailbox id order), one read of the statuses last announced, one of the alert states,
 * one INSERT of the events; webhook events and alert notifications only for real changes. A
 * mailbox that is gone (deleted meanwhile) is skipped.
 */
export async function writeMailboxStatuses(changes: MailboxStatusChange[]): Promise<void> {
  if (changes.length === 0) return;
  await getDb().transaction(async (tx) => {
    const values = sql.join(
      changes.map((c, i) => {
        const code = storedCode(c);
        return sql`(${i}::integer, ${c.mailboxId}::uuid, ${c.status}::mailbox_status, ${c.error !== undefined}::boolean, ${c.error ?? null}::text, ${code !== undefined}::boolean, ${code ?? null}::text, ${c.success === true}::boolean)`;
      }),
      sql`, `,
    );
    // Locked in id order first: two writers (replicas, the group commit) never wait in a cycle.
    const { rows } = await tx.execute<{ i: number; id: string; tenant_id: string; purpose: string }>(sql`
      WITH v(i, id, status, set_error, error, set_code, code, success) AS (VALUES ${values}),
      locked AS (SELECT m.id FROM mailboxes m WHERE m.id IN (SELECT id FROM v) ORDER BY m.id FOR UPDATE),
      upd AS (
        UPDATE mailboxes m SET
          status = v.status,
          status_changed_at = CASE WHEN m.status = v.status THEN m.status_changed_at ELSE now() END,
          last_error = CASE WHEN v.set_error THEN v.error ELSE m.last_error END,
          last_error_at = CASE WHEN v.set_error AND coalesce(v.error, '') <> '' THEN now() ELSE m.last_error_at END,
          last_error_code = CASE WHEN v.set_code THEN v.code ELSE m.last_error_code END,
          last_success_at = CASE WHEN v.success THEN now() ELSE m.last_success_at END
        FROM v
        WHERE m.id = v.id AND m.id IN (SELECT id FROM locked)
          -- One row per mailbox: the last change of the batch for it wins, as it would one by one.
          AND v.i = (SELECT max(v2.i) FROM v v2 WHERE v2.id = v.id)
        RETURNING m.id::text AS id, m.tenant_id::text AS tenant_id, m.purpose::text AS purpose
      )
      SELECT v.i, upd.id, upd.tenant_id, upd.purpose FROM v JOIN upd ON upd.id = v.id::text ORDER BY v.i`);
    const found = new Map(rows.map((r) => [r.id, { id: r.id, tenantId: r.tenant_id, purpose: r.purpose }]));
    const kept = changes.filter((c) => found.has(c.mailboxId));
    if (kept.length === 0) return;
    await recordMailboxStatusEvents({
      tx,
      changes: kept.map((c) => ({ mailbox: found.get(c.mailboxId)!, status: c.status, error: c.error ?? null })),
    });
    await recordAlertObservations(tx, {
      observations: kept.map((c) => ({ mailboxId: c.mailboxId, tenantId: found.get(c.mailboxId)!.tenantId, status: c.status, code: storedCode(c) ?? null })),
      policy: getAlertPolicy(),
    });
    // clock_timestamp, not the transaction's now(): several events of one commit keep their order.
    const events = kept.flatMap((c) => (c.events ?? []).map((e) => ({ mailboxId: c.mailboxId, kind: e.kind, message: e.message ?? null, createdAt: sql`clock_timestamp()` })));
    if (events.length > 0) await tx.insert(mailboxEvents).values(events);
  });
}
