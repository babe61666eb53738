import { and, eq, gt, isNull, lt, sql } from "drizzle-orm";
import { getDb } from "@/lib/db/client";
import { oauthFlows, type MailAccess, type MailboxPurpose, type OAuthFlow } from "@/lib/db/schema";

type OAuthFlowProvider = "google" | "microsoft";

/** Pending authorizations older than this are deleted when new ones start. */
const KEEP_USED_FLOWS_MS = 24 * 60 * 60 * 1000;

export async function createOAuthFlow(flow: {
  id: string;
  tenantId: string;
  sessionId: string;
  provider: OAuthFlowProvider;
  purpose: MailboxPurpose;
  access: MailAccess;
  /** Fernet token of the flow's secrets (PKCE verifier, and the tenant's own app if any). */
  secretsEncrypted: string;
  expiresAt: Date;
}): Promise<void> {
  const db = getDb();
  await db.insert(oauthFlows).values({
    id: flow.id,
    tenantId: flow.tenantId,
    sessionId: flow.sessionId,
    provider: flow.provider,
    purpose: flow.purpose,
    access: flow.access,
    codeVerifierEncrypted: flow.secretsEncrypted,
    expiresAt: flow.expiresAt,
  });
  // Housekeeping: the table only ever holds the last day of flows.
  await db.delete(oauthFlows).where(lt(oauthFlows.expiresAt, new Date(Date.now() - KEEP_USED_FLOWS_MS)));
}

export type ConsumeFailure = "not_found" | "used" | "expired" | "wrong_session" | "wrong_provider";

/**
 * Marks the flow used, atomically, only if it is unused, unexpired and belongs to this session,
 * tenant and provider: a replayed or stolen state finds nothing to consume. On failure, says why.
 */
export async function consumeOAuthFlow(params: {
  id: string;
  sessionId: string;
  tenantId: string;
  provider: OAuthFlowProvider;
}): Promise<{ ok: true; flow: OAuthFlow } | { ok: false; reason: ConsumeFailure }> {
  const db = getDb();
  const [flow] = await db
    .update(oauthFlows)
    .set({ usedAt: sql`now()` })
    .where(
      and(
        eq(oauthFlows.id, params.id),
        isNull(oauthFlows.usedAt),
        gt(oauthFlows.expiresAt, sql`now()`),
        eq(oauthFlows.sessionId, params.sessionId),
        eq(oauthFlows.tenantId, params.tenantId),
        eq(oauthFlows.provider, params.provider),
      ),
    )
    .returning();
  if (flow) return { ok: true, flow };
  const [row] = await db.select().from(oauthFlows).where(eq(oauthFlows.id, params.id));
  if (!row) return { ok: false, reason: "not_found" };
  if (row.sessionId !== params.sessionId || row.tenantId !== params.tenantId) return { ok: false, reason: "wrong_session" };
  if (row.provider !== params.provider) return { ok: false, reason: "wrong_provider" };
  if (row.usedAt) return { ok: false, reason: "used" };
  return { ok: false, reason: "expired" };
}

export async function getOAuthFlow(params: { id: string }): Promise<OAuthFlow | null> {
  const [row] = await getDb().select().from(oauthFlows).where(eq(oauthFlows.id, params.id));
  return row ?? null;
}
