#!/usr/bin/env bash
# Benchmarks the libcurl engine against wrk on the same loopback nginx, in one run, and beside both bare libcurl
# in C running the engine's loop on one thread (scripts/bench/curl-multi-loop.c): what libcurl itself allows;
# and the same C program driving libcurl through its event API (socket_action + epoll) instead.
#   DURATION=10 CONCURRENCY=64 ASYNCTASK_BIN=.build/release/asynctask scripts/bench-http.sh
# nginx (nginx-light) runs as the current user from a temp dir on a free 127.0.0.1 port and is
# stopped however the script ends. Prints wrk's and the engine's figures and the ratio.
set -euo pipefail
DURATION="${DURATION:-10}"
CONCURRENCY="${CONCURRENCY:-64}"
ASYNCTASK_BIN="${ASYNCTASK_BIN:-.build/release/asynctask}"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
for tool in "$NGINX" wrk python3 cc; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found (apt-get install nginx-light wrk python3 gcc)" >&2; exit 1; }
done
[ -x "$ASYNCTASK_BIN" ] || { echo "error: $ASYNCTASK_BIN not built (swift build -c release --product asynctask)" >&2; exit 1; }

dir="$(mktemp -d -t asynctask-bench-http.XXXXXX)"
nginx_pid=""
cleanup() {
  if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
    kill "$nginx_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$nginx_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$nginx_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
mkdir -p "$dir/tmp"
cat > "$dir/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  keepalive_timeout 65s;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    location / { default_type text/plain; return 200 "ok"; }
  }
}
CONF
"$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
nginx_pid=$!
for _ in $(seq 50); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
  sleep 0.1
done
url="http://127.0.0.1:$port/"
echo "nginx on $url (pid $nginx_pid), ${CONCURRENCY} connections, ${DURATION}s each"

echo "== wrk -t2 -c${CONCURRENCY} -d${DURATION}s"
wrk_out="$(wrk -t2 -c"$CONCURRENCY" -d"${DURATION}s" --latency "$url")"
echo "$wrk_out"
wrk_rps="$(echo "$wrk_out" | awk '/Requests\/sec:/ {print $2}')"

here="$(cd "$(dirname "$0")" && pwd)"
cc -O2 -o "$dir/curl-multi-loop" "$here/bench/curl-multi-loop.c" -lcurl
echo "== bare libcurl in C, one thread, curl_multi_perform + curl_multi_poll (scripts/bench/curl-multi-loop.c)"
c_out="$("$dir/curl-multi-loop" "$url" "$CONCURRENCY" "$DURATION" poll)"
echo "$c_out"
c_rps="$(echo "$c_out" | tr ' ' '\n' | awk -F= '$1=="requests_per_s" {print $2}')"
echo "== the same with libcurl's event API: curl_multi_socket_action + epoll"
socket_out="$("$dir/curl-multi-loop" "$url" "$CONCURRENCY" "$DURATION" socket)"
echo "$socket_out"
socket_rps="$(echo "$socket_out" | tr ' ' '\n' | awk -F= '$1=="requests_per_s" {print $2}')"

echo "== asynctask bench http --concurrency ${CONCURRENCY} --duration ${DURATION}"
engine_out="$("$ASYNCTASK_BIN" bench http --url "$url" --concurrency "$CONCURRENCY" --duration "$DURATION")"
echo "$engine_out"
engine_rps="$(echo "$engine_out" | tr ' ' '\n' | awk -F= '$1=="requests_per_s" {print $2}')"

python3 - "$wrk_rps" "$engine_rps" "$c_rps" "$socket_rps" <<'PY'
import sys
wrk, engine, bare, socket = (float(v) for v in sys.argv[1:5])
ratio = engine / wrk if wrk else 0.0
print(f"wrk_requests_per_s={wrk:.0f} engine_requests_per_s={engine:.0f} ratio={ratio:.2f} goal=0.70 {'PASS' if ratio >= 0.70 else 'BELOW-GOAL'}")
print(f"bare_libcurl_requests_per_s={bare:.0f} bare_libcurl_to_wrk={bare / wrk if wrk else 0:.2f} engine_to_bare_libcurl={engine / bare if bare else 0:.2f}")
print(f"bare_libcurl_socket_action_requests_per_s={socket:.0f} socket_action_to_wrk={socket / wrk if wrk else 0:.2f}")
PY
