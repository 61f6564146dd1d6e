#!/usr/bin/env bash
# `make bench-batch` (part of `make bench`): batched delivery (README "Batched delivery") beside the bare-SQL
# ceiling, on a durable PostgreSQL (fsync, full_page_writes, synchronous_commit on: the Makefile starts it so).
#   PG_SETTINGS="-c fsync=on -c synchronous_commit=on -c full_page_writes=on" scripts/with-postgres.sh scripts/bench-batch.sh
# 1. ../shared/bench/sql-ceiling.sh on the same server: the ceiling.
# 2. Drain ATTEMPTS (200000) pre-enqueued attempts with 2 nodes, target `batch: { max: 100, linger: 5ms }` served by
#    `asynctask example-target --batch` (http protocol): node settings default but for concurrency (CONCURRENCY,
#    1000, for the node and the target: batches of 100 need that many attempts in flight).
# 3. Where the time goes: CPU per attempt of the nodes, the target and PostgreSQL during the drain, and the
#    server's WAL flushes (commits) per 100 attempts.
# Env: ATTEMPTS, NODES (2), CONCURRENCY, DURATION (ceiling seconds, 15), ASYNCTASK_BIN, CEILING.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/pg-env.sh"
. "$here/scripts/bench-lib.sh"
bin="${ASYNCTASK_BIN:-$here/.build/release/asynctask}"
attempts="${ATTEMPTS:-200000}"
nodes="${NODES:-2}"
concurrency="${CONCURRENCY:-1000}"
ceiling="${CEILING:-$here/../shared/bench/sql-ceiling.sh}"
url="${ASYNCTASK_TEST_DATABASE_URL:?run through scripts/with-postgres.sh}"
export PGOPTIONS="-c client_min_messages=warning"
tmp=$(mktemp -d); chmod 755 "$tmp"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "== server: $(psql -qAtX -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'full_page_writes', 'synchronous_commit')") =="
bench_ceiling
bench_database bench_batch

target_port=$(free_port)
"$bin" example-target --batch --port "$target_port" >"$tmp/target.log" 2>&1 & target_pid=$!; pids+=($!)
cat >"$tmp/batch.yaml" <<YAML
database_url: $db_url
node: { concurrency: $concurrency }
targets:
  OrderClient:
    url: http://127.0.0.1:$target_port/rpc
    concurrency: $concurrency
    batch: { max: 100, linger: 5ms }
log: { format: json, level: warning }
admin: { listen: "127.0.0.1:0" }
YAML
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$target_port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

echo "== batched drain of $attempts attempts, $nodes nodes (target: example-target --batch, batch max 100, linger 5ms) =="
bench_fill "$attempts"
wal_before=$(psql -qAtX -c "SELECT wal_sync FROM pg_stat_wal")
target_before=$(bench_cpu_ticks "$target_pid"); pg_before=$(bench_pg_ticks)
bench_drain "$nodes" "$tmp/batch.yaml" batched
target_ticks=$(( $(bench_cpu_ticks "$target_pid") - target_before )); pg_ticks=$(( $(bench_pg_ticks) - pg_before ))
wal_syncs=$(( $(psql -qAtX -c "SELECT wal_sync FROM pg_stat_wal") - wal_before ))
stats=$(curl -fsS "http://127.0.0.1:$target_port/stats")
hz=$(getconf CLK_TCK)
per() { awk -v t="$1" -v hz="$hz" -v n="$attempts" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }'; }
echo "cpu_us_per_attempt nodes=$(per "$node_ticks") target=$(per "$target_ticks") postgres=$(per "$pg_ticks") (machine: $(nproc) cores; wall per attempt $(awk -v s="$drain_seconds" -v n="$attempts" 'BEGIN { printf "%.1f", s * 1e6 / n }') us)"
echo "wal_syncs_per_100_attempts=$(awk -v w="$wal_syncs" -v n="$attempts" 'BEGIN { printf "%.2f", w * 100 / n }') target_stats=$stats"
echo "goal: batched drain >= 0.7x the ceiling: $(awk -v r="$drain_rate" -v c="$ceiling_rate" 'BEGIN { print (r >= 0.7 * c ? "met" : "NOT met") }')"
echo "worker errors during the bench: $(grep -c '"level":"error"' "$tmp/worker.log" || true)"
