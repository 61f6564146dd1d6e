#!/usr/bin/env bash
# The one recipe for the release binary: the Dockerfile's build stage and `make release` both run this script,
# so the image and a local release build cannot drift apart (scripts/check-deploy.sh checks the Dockerfile).
#   scripts/build-release.sh [DIST_DIR]     (default: dist; prints the installed binary's path)
# The Swift runtime and Foundation are linked in statically, so the binary needs only libc, libstdc++, libpq
# and libcurl at run time (scripts/check-release.sh verifies that with ldd).
set -euo pipefail
cd "$(dirname "$0")/.."
dist="${1:-dist}"
swift_bin="${SWIFT:-swift}"
flags=(-c release --static-swift-stdlib)
"$swift_bin" build "${flags[@]}" --product asynctask
bin_path="$("$swift_bin" build "${flags[@]}" --show-bin-path)"
mkdir -p "$dist"
install -m 0755 "$bin_path/asynctask" "$dist/asynctask"
echo "$dist/asynctask"
