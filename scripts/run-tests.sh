#!/usr/bin/env bash
# Builds and runs every test target; expects the environment of scripts/with-postgres.sh.
set -euo pipefail
swift build --build-tests
swift test --skip-build
scripts/check-deploy.sh
scripts/check-release.sh
