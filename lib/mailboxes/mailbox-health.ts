import type { HealthResponse, MailboxHealth, MailboxStatus, StatsResponse } from "@/lib/api/types";
import { countRecentErrors } from "@/lib/db/queries/mailbox-events";
import { listTenantMailboxes } from "@/lib/db/queries/mailboxes";
import { getHourlyMessageCounts, getMessageStats, type PurposeStats } from "@/lib/db/queries/messages";
import type { Mailbox } from "@/lib/db/schema";
import { EMAIL_TYPES } from "@/lib/email/email-type";
import { baselineProgress, readImapCursor } from "@/lib/email/imap/imap-cursor-plan";
import { storedErrorCode } from "./mailbox-config";

export type { MailboxHealth };

const DAY_MS = 24 * 60 * 60 * 1000;

function statusOf(row: Mailbox | undefined): MailboxStatus {
  if (!row) return "not_configured";
  if (!row.enabled) return "disconnected";
  return row.status;
}

/** IMAP keeps the baseline next to its cursor (imap-cursor-plan.ts); the other protocols show the backlog. */
function firstImportOf(row: Mailbox | undefined): MailboxHealth["first_import"] {
  if (!row || row.access !== "imap") return null;
  return baselineProgress(readImapCursor(row.syncState));
}

export async function getTenantMailboxHealth({ tenantId }: { tenantId: string }): Promise<HealthResponse> {
  const since = new Date(Date.now() - DAY_MS);
  const rows = await listTenantMailboxes({ tenantId });
  const [errors, stats, ...hourly] = await Promise.all([
    countRecentErrors({ mailboxIds: rows.map((r) => r.id), since }),
    getMessageStats({ tenantId, since }),
    ...EMAIL_TYPES.map((purpose) => getHourlyMessageCounts({ tenantId, purpose, since })),
  ]);
  const result = {} as HealthResponse;
  EMAIL_TYPES.forEach((purpose, i) => {
    const row = rows.find((r) => r.purpose === purpose);
    const s: PurposeStats = stats[purpose];
    result[purpose] = {
      status: statusOf(row),
      enabled: row?.enabled ?? false,
      provider: row?.provider ?? null,
      access: row?.access ?? null,
      address: row ? (row.oauthConnectedEmail ?? row.address) : null,
      status_since: row?.statusChangedAt.toISOString() ?? null,
      last_sync: row?.lastSuccessAt?.toISOString() ?? null,
      last_error: row?.lastError ?? null,
      last_error_code: row ? storedErrorCode(row) : null,
      last_error_at: row?.lastErrorAt?.toISOString() ?? null,
      error_count: row ? (errors.get(row.id) ?? 0) : 0,
      backlog: row?.backlog ?? 0,
      first_import: firstImportOf(row),
      ...s,
      hourly: hourly[i] ?? [],
    };
  });
  return result;
}

/** GET /api/tenant/email/stats: seed §4.2 totals plus the same per mailbox. */
export async function getTenantMessageStats({
  tenantId,
}: {
  tenantId: string;
}): Promise<StatsResponse> {
  const stats = await getMessageStats({ tenantId, since: new Date(Date.now() - DAY_MS) });
  const processed = stats.booking.processed_24h + stats.stopsale.processed_24h;
  const weighted =
    stats.booking.avg_processing_time_ms * stats.booking.processed_24h +
    stats.stopsale.avg_processing_time_ms * stats.stopsale.processed_24h;
  return {
    processed_24h: processed,
    failed_24h: stats.booking.failed_24h + stats.stopsale.failed_24h,
    avg_processing_time_ms: processed ? Math.round((weighted / processed) * 10) / 10 : 0,
    queue_size: stats.booking.queue_size + stats.stopsale.queue_size,
    by_type: stats,
  };
}
