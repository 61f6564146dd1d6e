#!/usr/bin/env bash
# The container HEALTHCHECK: GET http://127.0.0.1:PORT/PATH and succeed on HTTP 200. Uses bash's /dev/tcp
# because the runtime image carries libcurl but no curl program.
#   asynctask-healthcheck [PORT] [PATH]
# PORT defaults to the port of ASYNCTASK_ADMIN_LISTEN (else 9090), PATH to /healthz (the admin server's
# liveness route). Exit 0 healthy, 1 otherwise (with the reason on stdout, which Docker keeps).
set -u
listen="${ASYNCTASK_ADMIN_LISTEN:-127.0.0.1:9090}"
port="${1:-${listen##*:}}"
path="${2:-/healthz}"
if ! exec 3<>"/dev/tcp/127.0.0.1/$port"; then
  echo "unhealthy: nothing listens on 127.0.0.1:$port"
  exit 1
fi
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$path" "$port" >&3
if ! IFS= read -r -t 3 status <&3; then
  echo "unhealthy: no HTTP answer from 127.0.0.1:$port$path within 3s"
  exit 1
fi
status="${status%$'\r'}"
case "$status" in
  "HTTP/1."?" 200"*) exit 0 ;;
  *) echo "unhealthy: $path answered '$status'"; exit 1 ;;
esac
