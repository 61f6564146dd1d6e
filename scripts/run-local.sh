#!/usr/bin/env bash
# `make run`: a local AsyncTask cluster on an embedded, throwaway PostgreSQL (or $DATABASE_URL when set):
# migrate, the example OrderClient target, 3 worker nodes, and a producer that commits and rolls back order
# transactions, with live progress and a summary. Ctrl-C stops everything cleanly.
# Env: ORDERS (2000), RATE (200 orders/s), ROLLBACK_RATE (0.2), FAIL_RATE (0.1: target answers 503), NODES (3),
# BATCH (unset; 1: the target serves batches and the nodes send up to 100 attempts per request, README "Batched delivery").
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)
. scripts/pg-env.sh
bin="${ASYNCTASK_BIN:-$here/.build/debug/asynctask}"
state="$here/.asynctask"
mkdir -p "$state/logs"
pids=()
pg_started=""

cleanup() {
  trap - EXIT INT TERM
  echo
  echo "stopping the cluster…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$pg_started" ]; then as_pg "$pg_bin/pg_ctl" -D "$state/pg/data" stop -m fast >/dev/null 2>&1 || true; fi
  echo "stopped. Logs are in $state/logs."
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "${DATABASE_URL:-}" ]; then
  url="$DATABASE_URL"
  echo "using DATABASE_URL"
else
  # A fresh throwaway server under .asynctask/pg each run.
  as_pg "$pg_bin/pg_ctl" -D "$state/pg/data" stop -m immediate >/dev/null 2>&1 || true
  rm -rf "$state/pg"
  mkdir -p "$state/pg"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$state/pg"; chmod 755 "$state"; fi
  port=$(free_port)
  as_pg "$pg_bin/initdb" -D "$state/pg/data" -U asynctask --auth=trust -E UTF8 --no-locale >"$state/logs/initdb.log" 2>&1
  as_pg "$pg_bin/pg_ctl" -D "$state/pg/data" -l "$state/pg/server.log" -w \
    -o "-p $port -k $state/pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
  pg_started=1
  url="postgresql://asynctask@127.0.0.1:$port/postgres"
  echo "embedded PostgreSQL on 127.0.0.1:$port (data in .asynctask/pg, wiped at the next run)"
fi

"$bin" migrate --database-url "$url"

target_port=$(free_port)
rm -f "$state/calls.jsonl"
"$bin" example-target ${BATCH:+--batch} --port "$target_port" --fail-rate "${FAIL_RATE:-0.1}" --delay-ms 5 --record "$state/calls.jsonl" \
  >"$state/logs/example-target.log" 2>&1 &
pids+=($!)

cat >"$state/worker.yaml" <<YAML
database_url: $url
node: { concurrency: 64, heartbeat: 1s, dead_after: 5s, lease: 30s }
targets:
  OrderClient:
    url: http://127.0.0.1:$target_port/rpc
    timeout: 5s
    max_attempts: 5
    backoff: { base: 200ms, max: 2s }
    concurrency: 32
${BATCH:+    batch: { max: 100, linger: 5ms \}}
log: { format: json, level: info }
YAML
for n in $(seq 1 "${NODES:-3}"); do
  # Each node's admin server (dashboard, /metrics) on its own port: 9091, 9092, …
  ASYNCTASK_ADMIN_LISTEN="127.0.0.1:$((9090 + n))" ASYNCTASK_ADMIN_TOKEN="${ADMIN_TOKEN:-local-dev-admin-token}" \
    "$bin" worker --config "$state/worker.yaml" >"$state/logs/worker$n.log" 2>&1 &
  pids+=($!)
done
echo "example OrderClient target on 127.0.0.1:$target_port (fails ${FAIL_RATE:-0.1} of calls with 503); ${NODES:-3} worker nodes; logs in .asynctask/logs"
echo "dashboards: http://127.0.0.1:9091/ … (admin token: ${ADMIN_TOKEN:-local-dev-admin-token})"
sleep 1
"$bin" dev produce --database-url "$url" --orders "${ORDERS:-2000}" --rate "${RATE:-200}" \
  --rollback-rate "${ROLLBACK_RATE:-0.2}" --record "$state/calls.jsonl"
