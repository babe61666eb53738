import type { Mailbox } from "@/lib/db/schema";

/**
 * How a mailbox connection is encrypted. "starttls" is required, never opportunistic: a server (or
 * a man in the middle) that does not offer the upgrade fails the connection instead of receiving
 * the password in clear. "none" is plaintext and only ever used when an admin picks it.
 */
export type TlsMode = "implicit" | "starttls" | "none";
export const TLS_MODES = ["implicit", "starttls", "none"] as const satisfies readonly TlsMode[];

/** Rows from before tls_mode: use_ssl true was implicit TLS, false was (opportunistic) STARTTLS, now required. */
export function effectiveTlsMode(row: Pick<Mailbox, "tlsMode" | "useSsl">): TlsMode {
  return row.tlsMode ?? (row.useSsl ? "implicit" : "starttls");
}

/** The API's tls_mode from a request that may send only the older use_ssl flag. */
export function tlsModeFromInput(input: { tls_mode?: TlsMode | undefined; use_ssl?: boolean | undefined }): TlsMode | undefined {
  if (input.tls_mode) return input.tls_mode;
  if (input.use_ssl === undefined) return undefined;
  return input.use_ssl ? "implicit" : "starttls";
}

/** imapflow's TLS switches for a mode: STARTTLS is required (doSTARTTLS true), never opportunistic. */
export function imapTlsSwitches(mode: TlsMode): { secure: boolean; doSTARTTLS: boolean } {
  if (mode === "implicit") return { secure: true, doSTARTTLS: false };
  return { secure: false, doSTARTTLS: mode === "starttls" };
}
