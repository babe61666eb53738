import { hostname } from "node:os";
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import type { Logger } from "pino";
import { findForwardingMailbox } from "@/lib/db/queries/forwarding";
import type { Mailbox } from "@/lib/db/schema";
import { ClientLimits } from "./client-limits";
import type { DnsResolve } from "./dns-resolver";
import { parseForwardingToken } from "./forwarding-address";
import { authenticateSender, normalizeClientIp } from "./sender-auth";
import { storeInboundMessage } from "./store-inbound-message";

export type InboundServerOptions = {
  domain: string;
  /** Greeting and Authentication-Results name. */
  serverName?: string;
  maxMessageBytes: number;
  socketTimeoutMs: number;
  maxClients: number;
  maxConnectionsPerIp: number;
  maxMessagesPerMinutePerIp: number;
  /** PEM key and certificate: STARTTLS is offered only with both. */
  tls?: { key: Buffer | string; cert: Buffer | string };
  resolver: DnsResolve;
  log: Logger;
};

type SmtpError = Error & { responseCode: number };

function smtpError(code: number, message: string): SmtpError {
  return Object.assign(new Error(message), { responseCode: code });
}

/** Mailboxes addressed in this transaction, by the session id (smtp-server keeps the envelope, we keep the rows). */
type Transaction = { mailboxes: Map<string, Mailbox> };

/** Reads the DATA stream up to the cap; past it, the rest is drained and dropped (smtp-server answers 552). */
function readCapped(stream: SMTPServerDataStream, cap: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let over = false;
    stream.on("data", (chunk: Buffer) => {
      if (over) return;
      bytes += chunk.length;
      if (bytes > cap) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    stream.on("error", reject);
    stream.on("end", () => resolve(over || stream.sizeExceeded ? null : Buffer.concat(chunks, bytes)));
  });
}

/**
 * The inbound SMTP server of forwarding mailboxes (issue 16): unknown recipients are refused at
 * RCPT, DATA is read with a byte cap, and 250 is answered only after the message is committed to
 * PostgreSQL. A storing failure answers 451 so the sender keeps the message and retries; its
 * retry is a no-op if the first attempt did commit (Message-ID / content hash keys).
 */
export function createInboundServer(opts: InboundServerOptions): SMTPServer {
  const limits = new ClientLimits({
    maxConnectionsPerIp: opts.maxConnectionsPerIp,
    maxMessagesPerMinute: opts.maxMessagesPerMinutePerIp,
  });
  const serverName = opts.serverName ?? hostname();
  const transactions = new WeakMap<SMTPServerSession, Transaction>();
  const counted = new WeakSet<SMTPServerSession>();
  const tx = (session: SMTPServerSession): Transaction => {
    let t = transactions.get(session);
    if (!t) {
      t = { mailboxes: new Map() };
      transactions.set(session, t);
    }
    return t;
  };

  const server = new SMTPServer({
    name: serverName,
    banner: "booking mail intake",
    size: opts.maxMessageBytes,
    rejectOversized: true,
    authOptional: true,
    disabledCommands: opts.tls ? ["AUTH"] : ["AUTH", "STARTTLS"],
    ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : {}),
    hideDSN: true,
    // RFC 3463 codes in every reply (550 5.1.1, 451 4.3.0, 552 5.2.2): senders log them and act on them.
    hideENHANCEDSTATUSCODES: false,
    maxClients: opts.maxClients,
    socketTimeout: opts.socketTimeoutMs,
    closeTimeout: 30_000,
    logger: false,
    onConnect(session, callback) {
      const ip = normalizeClientIp(session.remoteAddress) ?? "unknown";
      if (!limits.openConnection(ip)) return callback(smtpError(421, "Too many connections from your address, try again later"));
      counted.add(session);
      callback();
    },
    onClose(session) {
      if (counted.delete(session)) limits.closeConnection(normalizeClientIp(session.remoteAddress) ?? "unknown");
    },
    onMailFrom(_address, session, callback) {
      // A new transaction (after RSET or a previous message) starts with no recipients.
      transactions.set(session, { mailboxes: new Map() });
      const ip = normalizeClientIp(session.remoteAddress) ?? "unknown";
      if (!limits.startMessage(ip)) return callback(smtpError(421, "Too many messages from your address, try again later"));
      callback();
    },
    onRcptTo(address, session, callback) {
      const token = parseForwardingToken({ address: address.address, domain: opts.domain });
      if (!token) return callback(smtpError(550, "No such recipient here"));
      findForwardingMailbox({ token })
        .then((mailbox) => {
          if (!mailbox) return callback(smtpError(550, "No such recipient here"));
          tx(session).mailboxes.set(mailbox.id, mailbox);
          callback();
        })
        .catch((err: unknown) => {
          opts.log.warn({ event: "inbound_rcpt_lookup_failed", err }, "recipient lookup failed");
          callback(smtpError(451, "Temporary failure looking up the recipient, try again later"));
        });
    },
    onData(stream, session, callback) {
      const started = performance.now();
      const mailboxes = [...tx(session).mailboxes.values()];
      readCapped(stream, opts.maxMessageBytes)
        .then(async (raw) => {
          if (!raw) {
            opts.log.info({ event: "inbound_oversize", limit: opts.maxMessageBytes }, "message over the size limit refused");
            return callback(smtpError(552, "Message exceeds the size limit"));
          }
          const mailFrom = session.envelope.mailFrom;
          const auth = await authenticateSender({
            raw,
            envelope: {
              clientIp: normalizeClientIp(session.remoteAddress),
              helo: session.hostNameAppearsAs || null,
              envelopeFrom: mailFrom ? mailFrom.address || null : null,
            },
            mta: serverName,
            resolver: opts.resolver,
          }).catch((err: unknown) => {
            opts.log.warn({ event: "inbound_auth_failed", err }, "sender authentication failed");
            return null;
          });
          const results = auth ?? {
            spf: "temperror",
            dkim: "temperror",
            dmarc: "temperror",
            arc: "temperror",
            dkimDomains: [],
            header: "",
            clientIp: normalizeClientIp(session.remoteAddress),
            helo: session.hostNameAppearsAs || null,
            envelopeFrom: mailFrom ? mailFrom.address || null : null,
            headerFrom: [],
          };
          const { headerFrom, ...authResults } = results;
          let outcomes;
          try {
            outcomes = await storeInboundMessage({ mailboxes, raw, auth: authResults, headerFrom: headerFrom[0] ?? null });
          } catch (err) {
            opts.log.error({ event: "inbound_store_failed", err }, "storing a received message failed; answered 451");
            return callback(smtpError(451, "Temporary failure storing the message, try again later"));
          }
          const ms = Math.round(performance.now() - started);
          opts.log.info(
            { event: "inbound_stored", size: raw.length, ms, outcomes: outcomes.map((o) => o.stored), dkim: authResults.dkim, spf: authResults.spf },
            "received message committed",
          );
          if (outcomes.length > 0 && outcomes.every((o) => o.stored === "refused")) {
            return callback(smtpError(554, "The recipient does not accept mail from this sender"));
          }
          callback(null, "OK: message stored");
        })
        .catch((err: unknown) => {
          opts.log.error({ event: "inbound_data_failed", err }, "reading a message failed");
          callback(smtpError(451, "Temporary failure, try again later"));
        });
    },
  });
  server.on("error", (err) => opts.log.warn({ event: "inbound_smtp_error", err }, "SMTP connection error"));
  return server;
}
