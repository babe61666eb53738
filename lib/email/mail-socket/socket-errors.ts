import { MailError } from "@/lib/email/provider";

type ErrorLike = {
  code?: string;
  message?: string;
  authenticationFailed?: boolean;
  serverResponseCode?: string;
  responseText?: string;
  response?: string;
  reason?: string;
};

const TLS_CODES = new Set([
  "CERT_HAS_EXPIRED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "EPROTO",
]);

/**
 * Turns socket, TLS, DNS and IMAP failures into a reason an admin can act on. The original error
 * is kept as `cause` for logs; its text may echo server responses and is not shown as-is.
 */
export function describeImapError(err: unknown, context: { host: string; port: number; folder?: string }): MailError {
  if (err instanceof MailError) return err;
  const e = (err ?? {}) as ErrorLike;
  const code = e.code ?? "";
  const where = `${context.host}:${context.port}`;
  if (e.authenticationFailed || code === "AUTHENTICATIONFAILED" || e.serverResponseCode === "AUTHENTICATIONFAILED") {
    return new MailError("auth", "The server rejected the username or password.", { cause: err });
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new MailError("dns", `The mail server name ${context.host} could not be found (DNS).`, { cause: err });
  }
  if (code === "ECONNREFUSED") {
    return new MailError("refused", `Connection to ${where} was refused: check the host and port.`, { cause: err });
  }
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "ECONNRESET" || code === "EPIPE") {
    return new MailError("network", `The connection to ${where} failed (${code}).`, { cause: err });
  }
  if (
    code === "CONNECT_TIMEOUT" ||
    code === "GREETING_TIMEOUT" ||
    code === "UPGRADE_TIMEOUT" ||
    code === "ETIMEOUT" ||
    code === "ETIMEDOUT"
  ) {
    return new MailError("timeout", `The mail server at ${where} did not answer in time.`, { cause: err });
  }
  if (/STARTTLS/.test(e.message ?? "") && (e as { tlsFailed?: boolean }).tlsFailed) {
    return new MailError(
      "tls",
      `The server at ${where} does not offer STARTTLS, so the password would cross the network unencrypted. Use implicit TLS (usually port 993/995), or choose "no encryption" only if you accept that.`,
      { cause: err },
    );
  }
  if (code === "LineTooLarge" || code === "ResponseTooLarge" || code === "LiteralTooLarge" || code === "TooManyTokens") {
    return new MailError("protocol", `The mail server at ${where} sent a response larger than allowed.`, { cause: err });
  }
  if (TLS_CODES.has(code) || /certificate|ssl|tls/i.test(e.message ?? "")) {
    return new MailError(
      "tls",
      `A secure (TLS) connection to ${where} could not be made: the certificate is not trusted or the port does not speak TLS.`,
      { cause: err },
    );
  }
  if (code === "NotFound" || e.serverResponseCode === "NONEXISTENT") {
    return new MailError("folder_missing", `The folder "${context.folder ?? "INBOX"}" does not exist in this mailbox.`, {
      cause: err,
    });
  }
  if (code === "NoConnection" || code === "EConnectionClosed" || code === "ClosedAfterConnectText") {
    return new MailError("network", `The connection to ${where} was closed by the server.`, { cause: err });
  }
  return new MailError("unknown", `The mail server at ${where} returned an unexpected error.`, { cause: err });
}
