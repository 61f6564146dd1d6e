#!/usr/bin/env bash
# `make bench`: the worker benchmark of the nodes issue, side by side with the bare-SQL ceiling on the same server.
#   scripts/with-postgres.sh scripts/bench-drain.sh
# 1. ../shared/bench/sql-ceiling.sh (claim+complete batches of 100 with pgbench): the ceiling.
# 2. Drain ATTEMPTS (200000) pre-enqueued attempts with 1 node, then with 2 nodes; target = nginx returning 200.
# 3. Pickup latency (commit → call start) at a steady 1000 attempts/s (target = the example target, recording).
# 4. Node RSS with 1000 calls in flight (target answers after 2 s).
# Env: ATTEMPTS, DURATION (ceiling seconds, 15), ASYNCTASK_BIN (.build/release/asynctask), CEILING (path of sql-ceiling.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/pg-env.sh"
. "$here/scripts/bench-lib.sh"
bin="${ASYNCTASK_BIN:-$here/.build/release/asynctask}"
attempts="${ATTEMPTS:-200000}"
ceiling="${CEILING:-$here/../shared/bench/sql-ceiling.sh}"
url="${ASYNCTASK_TEST_DATABASE_URL:?run through scripts/with-postgres.sh}"
export PGOPTIONS="-c client_min_messages=warning"
tmp=$(mktemp -d); chmod 755 "$tmp"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# nginx on loopback answering every POST with 200.
nginx_port=$(free_port)
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx; proxy_temp_path $tmp/nginx; fastcgi_temp_path $tmp/nginx; uwsgi_temp_path $tmp/nginx; scgi_temp_path $tmp/nginx;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$nginx_port; location / { return 200 '{"ok":true}'; } }
}
CONF
nginx -c "$tmp/nginx.conf"

bench_ceiling
bench_database bench_drain

worker_config() { # $1 file, $2 target url, $3 concurrency
  cat >"$1" <<YAML
database_url: $db_url
node: { concurrency: $3, claim_batch: 1000, flush_batch: 1000, heartbeat: 2s, lease: 60s }
database: { pool_size: 8 }
targets:
  OrderClient: { url: $2, concurrency: $3, timeout: 30s }
log: { format: json, level: warning }
admin: { listen: "127.0.0.1:0" }
YAML
}
worker_config "$tmp/nginx.yaml" "http://127.0.0.1:$nginx_port/rpc" 1024

drain() { # $1 nodes
  bench_fill "$attempts"
  bench_drain "$1" "$tmp/nginx.yaml"
}
echo "== drain of $attempts attempts (target: nginx on loopback) =="
drain 1
drain 2

echo "== pickup latency at 1000 attempts/s (target: example-target, recording) =="
psql -qAtX -d bench_drain -c "TRUNCATE async_task_attempts; DELETE FROM async_task_nodes"
target_port=$(free_port)
"$bin" example-target --port "$target_port" --record "$tmp/calls.jsonl" >/dev/null 2>&1 & pids+=($!)
worker_config "$tmp/example.yaml" "http://127.0.0.1:$target_port/rpc" 256
"$bin" worker --config "$tmp/example.yaml" 2>>"$tmp/worker.log" & worker_pid=$!; pids+=($!)
sleep 2
"$bin" bench pickup --database-url "$db_url" --rate 1000 --duration 10 --record "$tmp/calls.jsonl"
kill -TERM "$worker_pid"; wait "$worker_pid" 2>/dev/null || true

echo "== node RSS with 1000 calls in flight (target answers after 2 s) =="
psql -qAtX -d bench_drain -c "TRUNCATE async_task_attempts; DELETE FROM async_task_nodes"
slow_port=$(free_port)
"$bin" example-target --port "$slow_port" --delay-ms 2000 >/dev/null 2>&1 & pids+=($!)
worker_config "$tmp/slow.yaml" "http://127.0.0.1:$slow_port/rpc" 1000
psql -qAtX -d bench_drain -c "INSERT INTO async_task_attempts (target, method_name, method_args) SELECT 'OrderClient', 'fulfill', '{}' FROM generate_series(1, 5000)"
"$bin" worker --config "$tmp/slow.yaml" 2>>"$tmp/worker.log" & worker_pid=$!; pids+=($!)
peak=0; peak_inflight=0
for _ in $(seq 1 40); do
  sleep 0.25
  rss=$(awk '/VmRSS/ { print $2 }' "/proc/$worker_pid/status")
  inflight=$(psql -qAtX -d bench_drain -c "SELECT count(*) FROM async_task_attempts WHERE locked_by IS NOT NULL")
  [ "$rss" -gt "$peak" ] && peak=$rss
  [ "$inflight" -gt "$peak_inflight" ] && peak_inflight=$inflight
done
echo "node_rss_mib=$(( peak / 1024 )) (peak over 10 s) leased_in_flight_peak=$peak_inflight"
kill -TERM "$worker_pid"; wait "$worker_pid" 2>/dev/null || true
echo "worker warnings/errors during the bench: $(grep -c '"level":"error"' "$tmp/worker.log" || true) errors"
