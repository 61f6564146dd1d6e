#!/usr/bin/env bash
# Installs the system packages the build and the tests need, when they are missing.
#   scripts/ensure-deps.sh [extra-package …]
# Always checks: libpq-dev, libcurl4-openssl-dev, postgresql (server, initdb, pg_ctl, pgbench), python3, openssl,
# python3-yaml (PyYAML, for scripts/check-deploy.sh), chromium (headless, for the dashboard's browser test), and
# Python's `cryptography` (the encryption example test runs examples/encrypt_args.py), and iproute2 (`ip netns`,
# for the network-partition test), and promtool (Debian's prometheus package, for the /metrics lint test) unless
# a promtool is already on PATH. For the Rails tests (clients/ruby): ruby, ruby-activerecord, ruby-pg, ruby-enumerize,
# ruby-actionpack and ruby-webrick (a Rails endpoint for the webhook test) and bundler (the gem loaded by path).
set -euo pipefail
want=(libpq-dev libcurl4-openssl-dev postgresql postgresql-contrib pkg-config openssl python3 python3-yaml chromium iproute2 ruby ruby-activerecord ruby-pg ruby-enumerize ruby-actionpack ruby-webrick bundler "$@")
missing=()
# Import check only (cheap): the python3 on PATH (pip) or the system's (apt) with `cryptography` will do; the
# test tries them in that order.
{ python3 -c 'import cryptography' || /usr/bin/python3 -c 'import cryptography'; } >/dev/null 2>&1 || missing+=(python3-cryptography)
# promtool (the /metrics test runs `promtool check metrics`) comes with Debian's prometheus package (about 20 MB,
# plus small JavaScript libraries for its web UI): only when no promtool is on PATH.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing missing system packages: ${missing[*]}" >&2
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: missing packages ${missing[*]} and not root (no sudo to install them)" >&2; exit 1; }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
# The prometheus package would start its server (on :9090, admin.listen's default): without the usual
# container policy-rc.d, keep services from starting during this install.
policy=/usr/sbin/policy-rc.d
if [[ " ${missing[*]} " == *" prometheus "* && ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod +x "$policy"
  trap '"${SUDO[@]}" rm -f "$policy"' EXIT
fi
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
