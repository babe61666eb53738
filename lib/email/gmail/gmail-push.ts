import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { z } from "zod";
import { notifyMailboxPush } from "@/lib/db/queries/mailbox-changes";
import { findGmailPushMailboxes } from "@/lib/db/queries/mailboxes";
import { AppError } from "@/lib/errors";

/**
 * Gmail push (seed §5.2): Gmail publishes "something changed for emailAddress" to a Pub/Sub
 * topic, and a push subscription POSTs each message here. The body carries no mail, only a wake-up,
 * so the worst a forged request could do is cost a history.list; still, only pushes signed by
 * Google for our audience and our push service account are accepted (Pub/Sub's "authenticated
 * push": an OIDC token in the Authorization header).
 */
export type GmailPushAuth = {
  /** The audience configured on the push subscription (default: this route's URL). */
  audience: string;
  /** The service account the push subscription signs as; tokens of any other account are refused. */
  serviceAccount: string;
  jwksUrl: string;
  issuer: string;
};

const pushEnvelopeSchema = z.object({
  message: z
    .object({
      data: z.string().min(1),
      messageId: z.string().optional(),
      message_id: z.string().optional(),
      publishTime: z.string().optional(),
      publish_time: z.string().optional(),
    })
    .refine((m) => (m.messageId ?? m.message_id) !== undefined && (m.publishTime ?? m.publish_time) !== undefined),
  subscription: z.string().min(1),
});
const uint64 = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(String);
const pushDataSchema = z.object({ emailAddress: z.string().min(3).includes("@"), historyId: uint64 });

/**
 * Validates a Pub/Sub push delivery of a Gmail watch notification and returns its payload, or null
 * when the body is not one.
 */
export function parseGmailPushNotification(body: unknown): { emailAddress: string; historyId: string } | null {
  const envelope = pushEnvelopeSchema.safeParse(body);
  if (!envelope.success) return null;
  const data = envelope.data.message.data;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(data)) return null;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(data, "base64").toString("utf8"));
  } catch {
    return null;
  }
  const payload = pushDataSchema.safeParse(decoded);
  return payload.success ? { emailAddress: payload.data.emailAddress, historyId: payload.data.historyId } : null;
}

const jwksByUrl = new Map<string, JWTVerifyGetKey>();

/** jose caches the keys and refetches on an unknown kid, so one set per URL per process. */
function getJwks(url: string): JWTVerifyGetKey {
  let jwks = jwksByUrl.get(url);
  if (!jwks) {
    jwks = createRemoteJWKSet(new URL(url), { timeoutDuration: 5000, cooldownDuration: 30_000 });
    jwksByUrl.set(url, jwks);
  }
  return jwks;
}

const rejected = (): AppError => new AppError(401, "unauthorized", "The push request is not signed by the configured Pub/Sub subscription.");

/**
 * Checks the push's OIDC token: signature by the issuer's keys, issuer, audience, expiry, and that
 * it was minted for the configured service account (anyone can get a Google-signed token with our
 * audience; only our push subscription signs as our service account).
 */
export async function verifyGmailPushToken({ authorization, auth }: { authorization: string | null; auth: GmailPushAuth }): Promise<void> {
  const match = /^Bearer\s+([A-Za-z0-9._-]+)\s*$/i.exec(authorization ?? "");
  if (!match?.[1]) throw rejected();
  // Google's tokens say "https://accounts.google.com" or, in older ones, "accounts.google.com".
  const issuers = [auth.issuer, auth.issuer.replace(/^https:\/\//, "")];
  let claims: Record<string, unknown>;
  try {
    const { payload } = await jwtVerify(match[1], getJwks(auth.jwksUrl), {
      issuer: issuers,
      audience: auth.audience,
      algorithms: ["RS256"],
      clockTolerance: 30,
      requiredClaims: ["exp", "iat"],
    });
    claims = payload;
  } catch (err) {
    // Keys we could not fetch are our outage, not a bad request: 503 makes Pub/Sub redeliver.
    if (err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError)) {
      throw new AppError(503, "push_verification_unavailable", "The push signature could not be checked right now.");
    }
    throw rejected();
  }
  if (claims.email !== auth.serviceAccount || claims.email_verified !== true) throw rejected();
}

/**
 * Handles one authenticated push: wakes the watcher of every enabled mailbox connected as that
 * Google account. Returns how many were woken (0 for an account we do not watch: acknowledged all
 * the same, or Pub/Sub would redeliver it for a week).
 */
export async function receiveGmailPush({ body }: { body: unknown }): Promise<{ mailboxes: number }> {
  const note = parseGmailPushNotification(body);
  if (!note) throw new AppError(400, "invalid_push", "The body is not a Gmail Pub/Sub notification.");
  const targets = await findGmailPushMailboxes({ emailAddress: note.emailAddress });
  for (const mailbox of targets) await notifyMailboxPush({ mailboxId: mailbox.id, event: "changed" });
  return { mailboxes: targets.length };
}
