#!/usr/bin/env bash
# Installs the system packages the build and the tests need, when they are missing.
#   scripts/ensure-deps.sh [extra-package …]
# Always checks: libpq-dev, libcurl4-openssl-dev, postgresql (server, initdb, pg_ctl, pgbench), python3, openssl,
# and chromium (headless, for the dashboard's browser test).
set -euo pipefail
want=(libpq-dev libcurl4-openssl-dev postgresql postgresql-contrib pkg-config openssl python3 chromium "$@")
missing=()
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
