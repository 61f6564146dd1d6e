#!/usr/bin/env bash
# Installs the system packages the build and the tests need, when they are missing.
#   scripts/ensure-deps.sh [extra-package …]
# Always checks: libpq-dev, libcurl4-openssl-dev, postgresql (server, initdb, pg_ctl, pgbench), python3, openssl,
# python3-yaml (PyYAML, for scripts/check-deploy.sh), chromium (headless, for the dashboard's browser test), and
# Python's `cryptography` (the encryption example test runs examples/encrypt_args.py), and iproute2 (`ip netns`,
# for the network-partition test).
set -euo pipefail
want=(libpq-dev libcurl4-openssl-dev postgresql postgresql-contrib pkg-config openssl python3 python3-yaml chromium iproute2 ruby ruby-activerecord ruby-pg ruby-enumerize "$@")
missing=()
# Import check only (cheap): the python3 on PATH (pip) or the system's (apt) with `cryptography` will do; the
# test tries them in that order.
{ python3 -c 'import cryptography' || /usr/bin/python3 -c 'import cryptography'; } >/dev/null 2>&1 || missing+=(python3-cryptography)
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
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
