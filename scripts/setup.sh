#!/usr/bin/env bash
# Makes sure the system tools the tests need are here: Debian's Chromium and firefox-esr
# (Playwright cannot download its own browsers here), openssl (the HTTPS test's certificate),
# redis-server and nginx (the shared-rooms tests start their own), and for the NAT lab iproute2,
# iptables and coturn.
# As root on Debian/Ubuntu it installs what is missing through apt; elsewhere it prints the exact
# command to run and fails. `SKIP_NAT_LAB=1` drops the lab's tools from the list.
set -euo pipefail

chromium_path="${CHROMIUM_PATH:-/usr/bin/chromium}"
missing=()
[ -x "$chromium_path" ] || missing+=(chromium)
[ -x "${FIREFOX_PATH:-/usr/bin/firefox-esr}" ] || missing+=(firefox-esr) # Chromium ↔ Firefox e2e
command -v openssl >/dev/null 2>&1 || missing+=(openssl) # the HTTPS e2e makes its certificate
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server) # the Redis room tests
[ -x "${NGINX:-/usr/sbin/nginx}" ] || missing+=(nginx) # several servers behind a balancer
if [ "${SKIP_NAT_LAB:-}" != "1" ]; then
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v iptables >/dev/null 2>&1 || missing+=(iptables)
  command -v turnserver >/dev/null 2>&1 || missing+=(coturn)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

install="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  $install
  exit 0
fi

echo "setup: the tests need ${missing[*]}, which this machine does not have." >&2
echo "setup: install them as root, on Debian or Ubuntu:  sudo $install" >&2
echo "setup: (or point CHROMIUM_PATH / FIREFOX_PATH at other browsers; SKIP_NAT_LAB=1 skips the NAT lab)" >&2
exit 1
