#!/usr/bin/env bash
# Installs (or checks for) the Debian packages the integration suites run against:
#   dovecot-imapd, dovecot-pop3d  private IMAP/POP3 server (tests/harness/dovecot.ts)
#   chromium                      browser tests via playwright-core (never `playwright install`)
#   openssl                       self-signed certificates for TLS tests
#   python3-cryptography          used by test tooling
#   nftables                      drops one TCP flow for the keepalive test (tests/harness/flow-blackhole.ts)
# Idempotent: exits 0 with one line when everything is already there.
set -euo pipefail

missing=()

# Each check looks at what the suites actually execute, not at dpkg state: a package that is
# "installed" but lacks the binary would still break the tests.
if [[ ! -x /usr/sbin/dovecot ]] || ! command -v doveadm >/dev/null 2>&1; then
  missing+=(dovecot-imapd)
fi
# The pop3 binary is what dovecot-pop3d adds to the shared dovecot-core.
if [[ ! -x /usr/lib/dovecot/pop3 ]]; then
  missing+=(dovecot-pop3d)
fi
if [[ ! -x /usr/bin/chromium ]]; then
  missing+=(chromium)
fi
if ! command -v openssl >/dev/null 2>&1; then
  missing+=(openssl)
fi
if [[ ! -x /usr/bin/python3 ]] || ! /usr/bin/python3 -c 'import cryptography' >/dev/null 2>&1; then
  missing+=(python3-cryptography)
fi

if ! command -v nft >/dev/null 2>&1; then
  missing+=(nftables)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "Test dependencies present: dovecot-imapd dovecot-pop3d chromium openssl python3-cryptography nftables"
  exit 0
fi

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  {
    echo "Missing Debian packages: ${missing[*]}"
    echo "Install them with: sudo apt-get install -y ${missing[*]}"
  } >&2
  exit 1
fi

echo "Installing missing Debian packages: ${missing[*]}"
apt-get update -qq
# The packages' postinst tries to start the system dovecot service; on these machines that start
# is refused (no init system), which can make apt-get report an error although the files are in
# place. Don't trust the exit status: verify the binaries below instead.
install_status=0
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" || install_status=$?
if [[ $install_status -ne 0 ]]; then
  echo "apt-get install exited with $install_status (service start refused?); verifying files" >&2
  # Finish configuring whatever was unpacked; a failing service start must not fail us here.
  DEBIAN_FRONTEND=noninteractive dpkg --configure -a >/dev/null 2>&1 || true
fi

# If the system dovecot did start, stop it: it would hold ports 143/110 and is not what the
# tests use (they start private instances with their own config).
if command -v doveadm >/dev/null 2>&1; then
  doveadm stop 2>/dev/null || true
fi

still_missing=()
for pkg in "${missing[@]}"; do
  case "$pkg" in
    dovecot-imapd) [[ -x /usr/sbin/dovecot ]] && command -v doveadm >/dev/null 2>&1 || still_missing+=("$pkg") ;;
    dovecot-pop3d) [[ -x /usr/lib/dovecot/pop3 ]] || still_missing+=("$pkg") ;;
    chromium) [[ -x /usr/bin/chromium ]] || still_missing+=("$pkg") ;;
    openssl) command -v openssl >/dev/null 2>&1 || still_missing+=("$pkg") ;;
    python3-cryptography) /usr/bin/python3 -c 'import cryptography' >/dev/null 2>&1 || still_missing+=("$pkg") ;;
  esac
done
if [[ ${#still_missing[@]} -ne 0 ]]; then
  echo "Still missing after apt-get install: ${still_missing[*]}" >&2
  exit 1
fi
echo "Installed: ${missing[*]}"
