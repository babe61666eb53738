import { and, asc, eq, inArray, isNotNull, isNull, lte, or, sql } from "drizzle-orm";
import { evaluateAlert, INITIAL_ALERT_STATE, observeStatus, sameAlertState, type AlertPolicy, type AlertState, type AlertToSend } from "@/lib/alerts/alert-state";
import { ALERT_MAIL_QUEUE } from "@/lib/alerts/alert-mail-queue";
import { sendJob } from "@/lib/jobs/job-queue";
import { getDb, type Database } from "@/lib/db/client";
import {
  alertDeliveries,
  alertNotifications,
  mailboxAlerts,
  mailboxes,
  tenants,
  users,
  type AlertNotification,
  type Mailbox,
  type MailboxAlert,
  type MailboxStatus,
  type User,
} from "@/lib/db/schema";

type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];

function toState(row: MailboxAlert | undefined): AlertState {
  if (!row) return INITIAL_ALERT_STATE;
  return {
    observed: row.observed as AlertState["observed"],
    observedCode: row.observedCode,
    failingSince: row.failingSince,
    healthySince: row.healthySince,
    alerted: row.alerted as AlertState["alerted"],
    alertedCode: row.alertedCode,
    alertedAt: row.alertedAt,
    dueAt: row.dueAt,
  };
}

/** Upserts the alert states of one or many mailboxes in one statement. */
async function saveStates(tx: Tx, states: Map<string, AlertState>): Promise<void> {
  if (states.size === 0) return;
  const updatedAt = new Date();
  await tx
    .insert(mailboxAlerts)
    .values([...states].map(([mailboxId, state]) => ({ mailboxId, ...state, updatedAt })))
    .onConflictDoUpdate({
      target: mailboxAlerts.mailboxId,
      set: {
        observed: sql`excluded.observed`,
        observedCode: sql`excluded.observed_code`,
        failingSince: sql`excluded.failing_since`,
        healthySince: sql`excluded.healthy_since`,
        alerted: sql`excluded.alerted`,
        alertedCode: sql`excluded.alerted_code`,
        alertedAt: sql`excluded.alerted_at`,
        dueAt: sql`excluded.due_at`,
        updatedAt: sql`excluded.updated_at`,
      },
    });
}

async function insertNotification(tx: Tx, { tenantId, mailboxId, send }: { tenantId: string; mailboxId: string; send: AlertToSend | { kind: "quiet"; code: null } }): Promise<AlertNotification> {
  const [row] = await tx
    .insert(alertNotifications)
    .values({ tenantId, mailboxId, kind: send.kind, code: send.kind === "failure" ? send.code : null })
    .returning();
  if (!row) throw new Error("alert notification insert returned no row");
  // The mail job commits with the alert it mails (and never exists without it).
  await sendJob({ spec: ALERT_MAIL_QUEUE, data: { notificationId: row.id }, tx });
  return row;
}

export type AlertObservation = { mailboxId: string; tenantId: string; status: MailboxStatus; code: string | null };

/**
 * Called by the status writer in the transaction of the status write: the alert state moves with
 * the status, and an alert due at once (needs_reauth, paused) is recorded right there. Many
 * mailboxes' observations (a start-up, an outage) take one locking read and one upsert; rows are
 * locked in mailbox id order, so two writers never wait on each other in a cycle.
 */
export async function recordAlertObservations(
  tx: Tx,
  { observations, policy, now = new Date() }: { observations: AlertObservation[]; policy: AlertPolicy; now?: Date },
): Promise<void> {
  if (observations.length === 0) return;
  const ids = [...new Set(observations.map((o) => o.mailboxId))].sort();
  const rows = await tx.select().from(mailboxAlerts).where(inArray(mailboxAlerts.mailboxId, ids)).orderBy(asc(mailboxAlerts.mailboxId)).for("update");
  const current = new Map<string, { exists: boolean; state: AlertState }>(rows.map((r) => [r.mailboxId, { exists: true, state: toState(r) }]));
  const changed = new Map<string, AlertState>();
  const sends: { tenantId: string; mailboxId: string; send: AlertToSend }[] = [];
  for (const o of observations) {
    const entry = current.get(o.mailboxId) ?? { exists: false, state: INITIAL_ALERT_STATE };
    const before = entry.state;
    const observed = observeStatus(before, { status: o.status, code: o.code, now }, policy);
    if (entry.exists && observed === before) continue; // neutral status: nothing to write
    const { state, send } = evaluateAlert(observed, now, policy);
    // A healthy mailbox that reconnects (every start-up, every connection) changes nothing here.
    if (entry.exists && !send && sameAlertState(state, before)) continue;
    current.set(o.mailboxId, { exists: true, state });
    changed.set(o.mailboxId, state);
    if (send) sends.push({ tenantId: o.tenantId, mailboxId: o.mailboxId, send });
  }
  await saveStates(tx, changed);
  for (const s of sends) await insertNotification(tx, s);
}

/**
 * The alert scan: every row whose due time has passed (one indexed query, SKIP LOCKED so replicas
 * share it), evaluated and saved with its notification in one transaction.
 */
export async function processDueAlerts({ policy, now = new Date(), limit = 500 }: { policy: AlertPolicy; now?: Date; limit?: number }): Promise<AlertNotification[]> {
  return getDb().transaction(async (tx) => {
    const rows = await tx
      .select({ alert: mailboxAlerts, tenantId: mailboxes.tenantId })
      .from(mailboxAlerts)
      .innerJoin(mailboxes, eq(mailboxes.id, mailboxAlerts.mailboxId))
      .where(and(isNotNull(mailboxAlerts.dueAt), lte(mailboxAlerts.dueAt, now)))
      .orderBy(asc(mailboxAlerts.dueAt))
      .limit(limit)
      .for("update", { of: mailboxAlerts, skipLocked: true });
    const created: AlertNotification[] = [];
    const states = new Map<string, AlertState>();
    const sends: { tenantId: string; mailboxId: string; send: AlertToSend }[] = [];
    for (const { alert, tenantId } of rows) {
      const { state, send } = evaluateAlert(toState(alert), now, policy);
      states.set(alert.mailboxId, state);
      if (send) sends.push({ tenantId, mailboxId: alert.mailboxId, send });
    }
    await saveStates(tx, states);
    for (const s of sends) created.push(await insertNotification(tx, s));
    return created;
  });
}

export type AlertMailContext = {
  notification: AlertNotification;
  tenantName: string;
  mailbox: Pick<Mailbox, "id" | "purpose" | "address" | "host" | "port" | "folder" | "access" | "oauthConnectedEmail"> | null;
  failingSince: Date | null;
  /** Newest stored message of the mailbox (the quiet warning says how long ago). */
  lastReceivedAt: Date | null;
};

/**
 * One alert by id, locked (for a queue job); null when gone or already mailed. NO KEY UPDATE: the
 * deliveries committed meanwhile on other connections reference the row (their FK check takes KEY SHARE).
 */
export async function withUnmailedAlert<T>(notificationId: string, fn: (ctx: AlertMailContext, tx: Tx) => Promise<T>): Promise<T | null> {
  return getDb().transaction(async (tx) => {
    const [row] = await tx
      .select({ notification: alertNotifications, tenantName: tenants.name })
      .from(alertNotifications)
      .innerJoin(tenants, eq(tenants.id, alertNotifications.tenantId))
      .where(and(eq(alertNotifications.id, notificationId), isNull(alertNotifications.mailedAt)))
      .for("no key update", { of: alertNotifications });
    if (!row) return null;
    const ctx = await loadMailContext(tx, row.notification, row.tenantName);
    const result = await fn(ctx, tx);
    await tx.update(alertNotifications).set({ mailedAt: sql`now()` }).where(eq(alertNotifications.id, row.notification.id));
    return result;
  });
}

async function loadMailContext(tx: Tx, notification: AlertNotification, tenantName: string): Promise<AlertMailContext> {
  const [mb] = notification.mailboxId
    ? await tx
        .select({
          id: mailboxes.id,
          purpose: mailboxes.purpose,
          address: mailboxes.address,
          host: mailboxes.host,
          port: mailboxes.port,
          folder: mailboxes.folder,
          access: mailboxes.access,
          oauthConnectedEmail: mailboxes.oauthConnectedEmail,
          failingSince: mailboxAlerts.failingSince,
          lastReceivedAt: sql<string | null>`(SELECT max(received_at) FROM ingested_messages WHERE mailbox_id = ${mailboxes.id})`,
        })
        .from(mailboxes)
        .leftJoin(mailboxAlerts, eq(mailboxAlerts.mailboxId, mailboxes.id))
        .where(eq(mailboxes.id, notification.mailboxId))
    : [];
  if (!mb) return { notification, tenantName, mailbox: null, failingSince: null, lastReceivedAt: null };
  const { failingSince, lastReceivedAt, ...mailbox } = mb;
  return { notification, tenantName, mailbox, failingSince, lastReceivedAt: lastReceivedAt ? new Date(lastReceivedAt) : null };
}

export type AlertRecipient = Pick<User, "id" | "email" | "locale">;

/** Admins of the tenant who want alert email and have not been mailed this alert yet. */
export async function listAlertRecipients(tx: Tx, { tenantId, notificationId }: { tenantId: string; notificationId: string }): Promise<AlertRecipient[]> {
  return tx
    .select({ id: users.id, email: users.email, locale: users.locale })
    .from(users)
    .where(
      and(
        eq(users.tenantId, tenantId),
        eq(users.role, "admin"),
        eq(users.alertEmail, true),
        sql`NOT EXISTS (SELECT 1 FROM ${alertDeliveries} d WHERE d.notification_id = ${notificationId} AND d.user_id = ${users.id})`,
      ),
    )
    .orderBy(asc(users.email));
}

/**
 * Committed at once on its own connection, right after the SMTP server accepted the mail: if the
 * process dies before the alert is marked mailed, the retry skips this admin.
 */
export async function recordAlertDelivery({ notificationId, userId, email, locale }: { notificationId: string; userId: string; email: string; locale: string }): Promise<void> {
  await getDb().insert(alertDeliveries).values({ notificationId, userId, email, locale }).onConflictDoNothing();
}

export type AlertNotice = {
  mailboxId: string;
  purpose: Mailbox["purpose"];
  kind: "failure" | "quiet";
  code: string | null;
  since: Date | null;
  status: MailboxStatus;
};

/** What the settings page shows: the alerts admins have been told of and that still hold. */
export async function listActiveAlertNotices({ tenantId }: { tenantId: string }): Promise<AlertNotice[]> {
  const rows = await getDb()
    .select({ alert: mailboxAlerts, purpose: mailboxes.purpose, status: mailboxes.status })
    .from(mailboxAlerts)
    .innerJoin(mailboxes, eq(mailboxes.id, mailboxAlerts.mailboxId))
    .where(and(eq(mailboxes.tenantId, tenantId), or(eq(mailboxAlerts.alerted, "failing"), isNotNull(mailboxAlerts.quietWarnedAt))));
  const notices: AlertNotice[] = [];
  for (const { alert, purpose, status } of rows) {
    if (alert.alerted === "failing") {
      notices.push({ mailboxId: alert.mailboxId, purpose, kind: "failure", code: alert.observedCode ?? alert.alertedCode, since: alert.failingSince ?? alert.alertedAt, status });
    }
    if (alert.quietWarnedAt) notices.push({ mailboxId: alert.mailboxId, purpose, kind: "quiet", code: null, since: alert.quietWarnedAt, status });
  }
  return notices;
}

/** Alerts recorded for a mailbox, oldest first (tests and the audit trail). */
export async function listAlertNotifications({ mailboxId }: { mailboxId: string }): Promise<AlertNotification[]> {
  return getDb().select().from(alertNotifications).where(eq(alertNotifications.mailboxId, mailboxId)).orderBy(asc(alertNotifications.createdAt));
}

export type QuietHistory = { mailboxId: string; tenantId: string; samples: number; p95GapMs: number | null; lastReceivedAt: Date | null; quietWarnedAt: Date | null };

/**
 * For every healthy mailbox that opted in: how many messages it received in the window, the 95th
 * percentile gap between consecutive ones, and the newest. One query for all of them.
 */
export async function listQuietHistories({ since }: { since: Date }): Promise<QuietHistory[]> {
  const result = await getDb().execute<{ mailbox_id: string; tenant_id: string; samples: string; p95_gap_ms: string | null; last_received_at: Date | string | null; quiet_warned_at: Date | string | null }>(sql`
    WITH gaps AS (
      SELECT m.mailbox_id, m.received_at,
             extract(epoch FROM m.received_at - lag(m.received_at) OVER (PARTITION BY m.mailbox_id ORDER BY m.received_at)) * 1000 AS gap_ms
      FROM ${sql.identifier("ingested_messages")} m
      JOIN ${mailboxes} mb ON mb.id = m.mailbox_id
      WHERE mb.quiet_alert AND mb.enabled AND mb.status = 'connected' AND m.received_at >= ${since.toISOString()}::timestamptz
    )
    SELECT mb.id AS mailbox_id, mb.tenant_id, count(g.received_at) AS samples,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY g.gap_ms) AS p95_gap_ms,
           max(g.received_at) AS last_received_at, a.quiet_warned_at
    FROM ${mailboxes} mb
    LEFT JOIN gaps g ON g.mailbox_id = mb.id
    LEFT JOIN ${mailboxAlerts} a ON a.mailbox_id = mb.id
    WHERE mb.quiet_alert AND mb.enabled AND mb.status = 'connected'
    GROUP BY mb.id, mb.tenant_id, a.quiet_warned_at`);
  const date = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));
  return result.rows.map((r) => ({
    mailboxId: r.mailbox_id,
    tenantId: r.tenant_id,
    samples: Number(r.samples),
    p95GapMs: r.p95_gap_ms === null ? null : Number(r.p95_gap_ms),
    lastReceivedAt: date(r.last_received_at),
    quietWarnedAt: date(r.quiet_warned_at),
  }));
}

/** Records the quiet warning once (the row is locked, so two replicas cannot both warn). */
export async function recordQuietWarning({ mailboxId, tenantId, now = new Date() }: { mailboxId: string; tenantId: string; now?: Date }): Promise<AlertNotification | null> {
  return getDb().transaction(async (tx) => {
    await tx.insert(mailboxAlerts).values({ mailboxId }).onConflictDoNothing();
    const [locked] = await tx.select().from(mailboxAlerts).where(eq(mailboxAlerts.mailboxId, mailboxId)).for("update");
    if (!locked || locked.quietWarnedAt) return null;
    await tx.update(mailboxAlerts).set({ quietWarnedAt: now, updatedAt: now }).where(eq(mailboxAlerts.mailboxId, mailboxId));
    return insertNotification(tx, { tenantId, mailboxId, send: { kind: "quiet", code: null } });
  });
}

/** Mail arrived again after a quiet warning: the notice goes away (and a later silence warns again). */
export async function clearQuietWarnings({ mailboxIds }: { mailboxIds: string[] }): Promise<void> {
  if (mailboxIds.length === 0) return;
  await getDb().update(mailboxAlerts).set({ quietWarnedAt: null, updatedAt: sql`now()` }).where(inArray(mailboxAlerts.mailboxId, mailboxIds));
}

/** Sign-in failures of a mailbox since a time (the pause rule counts them). */
export async function countAuthFailures({ mailboxId, since }: { mailboxId: string; since: Date }): Promise<number> {
  const result = await getDb().execute<{ n: string }>(
    sql`SELECT count(*) AS n FROM mailbox_events WHERE mailbox_id = ${mailboxId} AND kind = 'auth_failed' AND created_at > ${since.toISOString()}::timestamptz`,
  );
  return Number(result.rows[0]?.n ?? 0);
}
