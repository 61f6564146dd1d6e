#!/usr/bin/env bash
# Checks deploy/ (Compose and Kubernetes), the Dockerfile and the README against each other and the code,
# without a Docker engine or a cluster (see scripts/check_deploy.py for the list). Part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import yaml' 2>/dev/null || { echo "error: PyYAML missing (scripts/ensure-deps.sh installs python3-yaml)" >&2; exit 1; }
exec python3 scripts/check_deploy.py
