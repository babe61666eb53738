import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { MailError } from "./provider";

/** Ranges a tenant must not make our servers connect to (SSRF into the cluster or the host). */
function isBlockedIPv4(ip: string): boolean {
  const [a = 0, b = 0] = ip.split(".").map(Number);
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a >= 224
  );
}

function isBlockedIPv6(ip: string): boolean {
  const v = ip.toLowerCase();
  if (v === "::" || v === "::1") return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(v);
  if (mapped?.[1]) return isBlockedIPv4(mapped[1]);
  return /^(fe[89ab][0-9a-f]|fc|fd|ff)/.test(v);
}

export function isBlockedAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return isBlockedIPv4(ip);
  if (family === 6) return isBlockedIPv6(ip);
  return true;
}

/**
 * Resolves the host and refuses private, loopback and link-local targets unless the deployment
 * allows them (MAIL_ALLOW_PRIVATE_HOSTS). Checked again at every connect, not only on save, so a
 * DNS change cannot turn an accepted host into an internal one.
 */
export async function assertHostAllowed(host: string, opts: { allowPrivate: boolean }): Promise<void> {
  if (opts.allowPrivate) return;
  const hostname = host.replace(/^\[|\]$/g, "");
  if (/^localhost\.?$/i.test(hostname)) {
    throw new MailError("host_not_allowed", `The host ${host} is not allowed: it points to a private network.`);
  }
  let addresses: string[];
  if (isIP(hostname)) {
    addresses = [hostname];
  } else {
    try {
      addresses = (await lookup(hostname, { all: true })).map((a) => a.address);
    } catch (err) {
      throw new MailError("dns", `The mail server name ${host} could not be found (DNS).`, { cause: err });
    }
  }
  if (addresses.some(isBlockedAddress)) {
    throw new MailError("host_not_allowed", `The host ${host} is not allowed: it points to a private network.`);
  }
}
