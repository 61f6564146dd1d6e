#!/usr/bin/env bash
# Checks that each module imports, and depends on in Package.swift, only what its layer allows: the admin module
# links no libcurl, the targets module no libpq or Crypto, the leaf AsyncTaskCore nothing (see
# scripts/check_layers.py for the table). Part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/check_layers.py
