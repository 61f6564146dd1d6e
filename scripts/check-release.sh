#!/usr/bin/env bash
# Builds the release binary exactly as the Dockerfile does (scripts/build-release.sh) and checks that it runs:
# `asynctask --version` prints the version, and the binary links no Swift runtime library dynamically, only
# system libraries that the runtime image provides (libc, libstdc++, libpq5, libcurl4 and their dependencies).
# Slow (a full optimized build); `make test` runs it after the Swift tests.
set -euo pipefail
cd "$(dirname "$0")/.."
dist="$(mktemp -d /tmp/asynctask-release.XXXXXX)"
trap 'rm -rf "$dist"' EXIT
bin="$(scripts/build-release.sh "$dist" | tail -1)"
version="$("$bin" --version)"
expected="$(sed -n 's/.*static let current = "\(.*\)".*/\1/p' Sources/asynctask/AsyncTaskCommand.swift)"
if [ "$version" != "$expected" ]; then
  echo "check-release: asynctask --version printed '$version', expected '$expected'" >&2
  exit 1
fi
libs="$(ldd "$bin")"
# Here-strings, not `echo | grep -q`: with pipefail, grep -q exits at its first match and echo, still writing
# ldd's output (over 4 KiB with libcurl's dependencies), dies of SIGPIPE, which fails the pipeline.
if grep -E 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime' <<<"$libs" >&2; then
  echo "check-release: the release binary links Swift runtime libraries dynamically (expected --static-swift-stdlib)" >&2
  exit 1
fi
for needed in libpq.so.5 libcurl.so.4; do
  grep -q "$needed" <<<"$libs" || { echo "check-release: the binary does not link $needed" >&2; exit 1; }
done
if grep -q 'not found' <<<"$libs"; then
  echo "$libs" >&2
  echo "check-release: unresolved shared libraries" >&2
  exit 1
fi
"$bin" --help >/dev/null
echo "check-release: ok ($bin, version $version, $(du -h "$bin" | cut -f1), Swift runtime linked statically)"
