#!/usr/bin/env bash
# `make bench-drain`: the worker benchmark, side by side with the bare-SQL ceiling on the same server, in one run.
#   scripts/with-postgres.sh scripts/bench-drain.sh      (make bench-drain runs it on a durable PostgreSQL)
# 0. The server's durability settings, the machine's load, and the commit latency of a one-row UPDATE (pgbench).
# 1. ../shared/bench/sql-ceiling.sh (claim+complete batches of 100 with pgbench): the ceiling.
# 2. Drain ATTEMPTS (200000) pre-enqueued attempts, target = nginx returning 200: 1 node and 2 nodes, each with
#    the node's and target's default settings and tuned (claim_batch and flush_batch 1000, concurrency 1024);
#    with BASELINE_BIN (another build of asynctask) also that binary with default settings, in the same run.
#    Each line: attempts/s, ratio to the ceiling, commits per 100 attempts (pg_stat_database), claim and flush
#    statements per 100 attempts and their mean execution time (pg_stat_statements).
#    Then, one node with default settings: limits that never bind (a rate, a global_concurrency) and every attempt
#    with one of 10,000 ordering keys, each against no limit; the claim's mean and max time at 1,000,000 pending
#    rows with 100,000 keys (random and in runs) and with one key's 100,000-row backlog first, beside the
#    unkeyed claim on 1,000,000 rows; rows per claim and milliseconds per 100 claimed rows.
# 3. Pickup latency (commit → call start) at a steady 1000 attempts/s, default settings (target = the example
#    target, recording), split into commit → claim and claim → call; the first second's attempts (the node opens
#    its HTTP connections to the target) are a warm-up, printed apart and not in the figures.
# 4. Node RSS with 1000 calls in flight (target answers after 2 s).
# Env: ATTEMPTS, DURATION (ceiling seconds, 15), ASYNCTASK_BIN (.build/release/asynctask), CEILING (path of
# sql-ceiling.sh), BASELINE_BIN, ROUNDS (1: how often the drains of each node count run), DRAINS (which drains: default "default tuned tuned-transfers128";
# also tuned-transfersN: tuned with node.http_transfers N, at most N transfers inside libcurl), PREFETCH_OFF=1 (also one node
# with default settings but node.prefetch 0: no claimed attempts ahead of the slots), LIMITS=0 (skip the drains
# with a rate and a global_concurrency that never bind, and the one with 10,000 ordering keys; LIMITS=keys: only
# the ordered one), LIMIT_ROUNDS (2: rounds of those drains, each between two drains with no limit), CLAIM_SCALE=0 (skip
# the claim at 1,000,000 pending rows), CLAIM_SECONDS (10), NODES (the node counts drained: "1 2").
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

durability=$(psql -qAtX -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')")
case "$durability" in
  "fsync=on full_page_writes=on synchronous_commit=on") echo "== PostgreSQL: durable ($durability) ==" ;;
  *) echo "== PostgreSQL: NOT DURABLE ($durability): figures not comparable with a durable run ==" ;;
esac
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start (shared machine: compare within this run)"
cat >"$tmp/commit.sql" <<'SQL'
UPDATE bench_commit SET n = n + 1 WHERE id = 1;
SQL
psql -qAtX -c "DROP TABLE IF EXISTS bench_commit" -c "CREATE TABLE bench_commit (id int PRIMARY KEY, n bigint)" -c "INSERT INTO bench_commit VALUES (1, 0)"
commit_ms=$(pgbench -n -M prepared -c 1 -T 5 -f "$tmp/commit.sql" 2>&1 | awk '/latency average/ { print $4 }')
psql -qAtX -c "DROP TABLE bench_commit"
echo "commit_latency_ms=$commit_ms (one-row UPDATE, one client, pgbench, 5 s)"

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
# BASELINE_BIN drains against a database that binary migrated itself: an older build must not pay for (or trip
# over) triggers and columns of a newer schema.
if [ -n "${BASELINE_BIN:-}" ]; then
  bin="$BASELINE_BIN" bench_database bench_baseline
  baseline_url=$db_url
  psql -qAtX -d bench_baseline -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" 2>/dev/null || true
fi
bench_database bench_drain

psql -qAtX -d bench_drain -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" 2>/dev/null || true
has_pgss=$(psql -qAtX -d bench_drain -c "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")

worker_config() { # $1 file, $2 target url, $3 settings (tuned | default | in_flight N)
  local node target
  case "$3" in
    tuned) node="concurrency: 1024, claim_batch: 1000, flush_batch: 1000, "; target="concurrency: 1024, " ;;
    tuned-transfers*) node="concurrency: 1024, claim_batch: 1000, flush_batch: 1000, http_transfers: ${3#tuned-transfers}, "; target="concurrency: 1024, " ;;
    default) node=""; target="" ;;
    prefetch-off) node="prefetch: 0, "; target="" ;;
    rate-unbound) node=""; target="rate: 10000000/s, " ;;
    global-unbound) node=""; target="global_concurrency: 100000, " ;;
    *) node="concurrency: $3, "; target="concurrency: $3, " ;;
  esac
  cat >"$1" <<YAML
database_url: $db_url
node: { ${node}lease: 60s }
targets:
  OrderClient: { url: $2, ${target}timeout: 30s }
log: { format: json, level: warning }
admin: { listen: "127.0.0.1:0" }
YAML
}
nginx_url="http://127.0.0.1:$nginx_port/rpc"
worker_config "$tmp/tuned.yaml" "$nginx_url" tuned
worker_config "$tmp/default.yaml" "$nginx_url" default
worker_config "$tmp/prefetch-off.yaml" "$nginx_url" prefetch-off
worker_config "$tmp/rate-unbound.yaml" "$nginx_url" rate-unbound
worker_config "$tmp/global-unbound.yaml" "$nginx_url" global-unbound
for kind in ${DRAINS:-default tuned tuned-transfers128}; do
  case "$kind" in tuned-transfers*) worker_config "$tmp/$kind.yaml" "$nginx_url" "$kind" ;; esac
done
if [ -n "${BASELINE_BIN:-}" ]; then db_url=$baseline_url worker_config "$tmp/baseline-default.yaml" "$nginx_url" default; fi

commits() { psql -qAtX -d "$bench_db" -c "SELECT xact_commit FROM pg_stat_database WHERE datname = '$bench_db'"; }
statement_stats() { # calls and mean ms of the claim and the outcome flush since the reset
  [ "$has_pgss" = 1 ] || { echo "(pg_stat_statements not loaded)"; return; }
  psql -qAtX -d "$bench_db" -F ' ' -c "
    SELECT coalesce(sum(calls) FILTER (WHERE query LIKE 'WITH caps AS%' OR query LIKE '%async_task_claim_limited(%'), 0),
           coalesce(round((sum(total_exec_time) FILTER (WHERE query LIKE 'WITH caps AS%' OR query LIKE '%async_task_claim_limited(%') / nullif(sum(calls) FILTER (WHERE query LIKE 'WITH caps AS%' OR query LIKE '%async_task_claim_limited(%'), 0))::numeric, 2), 0),
           coalesce(sum(calls) FILTER (WHERE query LIKE 'WITH o AS%'), 0),
           coalesce(round((sum(total_exec_time) FILTER (WHERE query LIKE 'WITH o AS%') / nullif(sum(calls) FILTER (WHERE query LIKE 'WITH o AS%'), 0))::numeric, 2), 0)
    FROM pg_stat_statements" | awk -v n="$attempts" '{ printf "claims_per_100=%.2f claim_ms=%s flushes_per_100=%.2f flush_ms=%s", $1 * 100 / n, $2, $3 * 100 / n, $4 }'
}

drain() { # $1 label, $2 nodes, $3 config, $4 binary, $5 ordering keys (empty: no keys), $6 database (bench_drain)
  bench_db=${6:-bench_drain}
  bench_fill "$attempts" ${5:+"$5"}
  # The other database's last drain left 200,000 dead row versions: vacuumed now, not by autovacuum during this
  # drain (whose CPU would count here).
  for other in bench_drain ${BASELINE_BIN:+bench_baseline}; do
    [ "$other" = "$bench_db" ] || psql -qAtX -d "$other" -c "VACUUM async_task_attempts"
  done
  psql -qAtX -d "$bench_db" -c "CHECKPOINT"
  [ "$has_pgss" = 1 ] && psql -qAtX -d "$bench_db" -c "SELECT pg_stat_statements_reset()" >/dev/null
  local before; before=$(commits)
  local pg_before; pg_before=$(bench_pg_ticks)
  local started; started=$(date +%s.%N)
  local node_pids=()
  for n in $(seq 1 "$2"); do "$4" worker --config "$3" 2>>"$tmp/worker.log" & node_pids+=($!); pids+=($!); done
  # The end is the last completion the nodes recorded, not when this loop noticed it, so the probe can be
  # rare: each one scans the table (~20-40 ms of the server's CPU) while the drain it measures runs.
  local probes=0
  while [ "$(psql -qAtX -d "$bench_db" -c "SELECT EXISTS (SELECT 1 FROM async_task_attempts WHERE status = 'pending')")" = t ]; do sleep 1; probes=$((probes + 1)); done
  local finished; finished=$(psql -qAtX -d "$bench_db" -c "SELECT extract(epoch FROM max(completed_at)) FROM async_task_attempts")
  local after; after=$(commits)
  local stats; stats=$(statement_stats)
  local pg_after; pg_after=$(bench_pg_ticks)
  for pid in "${node_pids[@]}"; do kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; done
  # PostgreSQL's CPU per attempt (all its processes, this drain's probes included), in microseconds.
  local pg_us; pg_us=$(awk -v t="$((pg_after - pg_before))" -v hz="$(getconf CLK_TCK)" -v n="$attempts" 'BEGIN { printf "%.1f", t * 1000000 / hz / n }')
  local rate; rate=$(awk -v n="$attempts" -v a="$started" -v b="$finished" 'BEGIN { printf "%d", n / (b - a) }')
  # The probe's own transactions (one a second, plus the two reads here) are not the nodes'.
  local per100; per100=$(awk -v c="$((after - before - probes - 3))" -v n="$attempts" 'BEGIN { printf "%.2f", c * 100 / n }')
  printf "drain %-16s nodes=%d attempts=%d attempts_per_s=%d ratio_to_ceiling=%.2f commits_per_100=%s pg_cpu_us_per_attempt=%s %s\n" \
    "$1" "$2" "$attempts" "$rate" "$(awk -v r="$rate" -v c="$ceiling_rate" 'BEGIN { print r / c }')" "$per100" "$pg_us" "$stats"
  eval "rate_${1//[^a-z0-9]/_}_$2=$rate"
  bench_db=bench_drain
}
echo "== drain of $attempts attempts (target: nginx on loopback); default = the node's and target's default settings =="
for nodes in ${NODES:-1 2}; do
  # ROUNDS (1) repeats this node count's drains, alternating with the baseline's: the ratios printed below are
  # of the last round, every line is printed.
  for round in $(seq 1 "${ROUNDS:-1}"); do
    for kind in ${DRAINS:-default tuned tuned-transfers128}; do drain "$kind" "$nodes" "$tmp/$kind.yaml" "$bin"; done
    if [ "$nodes" = 1 ] && [ -n "${PREFETCH_OFF:-}" ]; then drain "prefetch-off" 1 "$tmp/prefetch-off.yaml" "$bin"; fi
    if [ -n "${BASELINE_BIN:-}" ]; then drain "baseline-default" "$nodes" "$tmp/baseline-default.yaml" "$BASELINE_BIN" "" bench_baseline; fi
  done
done
# Cluster-wide limits that never bind (LIMITS=0 skips): the cost of routing claims through the claim function
# (one row lock per claim, no prefetch for the target), one node, default settings otherwise; and every attempt
# with one of 10,000 ordering keys. Each of these drains runs between two drains with no limit and no key, and
# is compared with their mean: one drain's rate moves by 10% on a shared machine between minutes, so a ratio
# against a drain run minutes earlier measured the machine. LIMIT_ROUNDS (2) repeats the sequence; the ratio
# printed last is the mean over the rounds, every round's is printed.
if [ "${LIMITS:-1}" != 0 ]; then
  if [ "${LIMITS:-1}" != keys ]; then limited="rate-unbound global-unbound ordered-10k-keys"; else limited="ordered-10k-keys"; fi
  limited_drain() { # $1 kind: runs it, sets last_rate
    if [ "$1" = ordered-10k-keys ]; then drain "$1" 1 "$tmp/default.yaml" "$bin" 10000; else drain "$1" 1 "$tmp/$1.yaml" "$bin"; fi
    last_rate=$(eval echo "\$rate_${1//[^a-z0-9]/_}_1")
  }
  drain "default" 1 "$tmp/default.yaml" "$bin"; before=$rate_default_1
  declare -A ratio_sum=()
  for round in $(seq 1 "${LIMIT_ROUNDS:-2}"); do
    declare -A measured=()
    for kind in $limited; do limited_drain "$kind"; measured[$kind]=$last_rate; done
    drain "default" 1 "$tmp/default.yaml" "$bin"; after=$rate_default_1
    line="limits round $round, against the mean of the no-limit drains before and after ($before, $after attempts/s):"
    for kind in $limited; do
      r=$(awk -v a="${measured[$kind]}" -v b="$before" -v c="$after" 'BEGIN { printf "%.3f", 2 * a / (b + c) }')
      ratio_sum[$kind]=$(awk -v s="${ratio_sum[$kind]:-0}" -v r="$r" 'BEGIN { print s + r }')
      line="$line $kind $r"
    done
    echo "$line"
    before=$after
  done
  mean_ratio() { awk -v s="${ratio_sum[$1]}" -v n="${LIMIT_ROUNDS:-2}" 'BEGIN { printf "%.2f", s / n }'; }
  if [ "${LIMITS:-1}" != keys ]; then
    echo "limits that never bind, one node, against no limit: rate $(mean_ratio rate-unbound), global_concurrency $(mean_ratio global-unbound)"
  fi
  echo "every attempt with one of 10,000 ordering keys (random), one node, against no keys: $(mean_ratio ordered-10k-keys)"
  if [ -n "${BASELINE_BIN:-}" ]; then
    # The same ordered drain by the other build, against its own default drain of this run.
    [ -n "${rate_baseline_default_1:-}" ] || drain "baseline-default" 1 "$tmp/baseline-default.yaml" "$BASELINE_BIN" "" bench_baseline
    drain "baseline-ordered-10k-keys" 1 "$tmp/baseline-default.yaml" "$BASELINE_BIN" 10000 bench_baseline
    echo "BASELINE_BIN, every attempt with one of 10,000 ordering keys against its default drain: $(awk -v a="$rate_baseline_ordered_10k_keys_1" -v b="$rate_baseline_default_1" 'BEGIN { printf "%.2f", a / b }')"
  fi
fi

# The claim at 1,000,000 pending rows with ordering keys: one node with default settings runs for CLAIM_SECONDS
# (10) on each layout; pg_stat_statements gives the claim statement's mean and max execution time under that load.
# `hot` (one key's 100,000-row backlog ahead of every other row) is what parking is for: without it every claim
# stepped over the backlog while the key's head ran (2.6 s per claim); parked, the backlog is outside the claim's
# range (README, "Ordered keys").
claim_at_scale() { # $1 layout, $2 keys
  [ "$has_pgss" = 1 ] || { echo "claim at 1,000,000 pending: needs pg_stat_statements"; return; }
  if [ "$1" = none ]; then bench_fill 1000000; else bench_fill 1000000 "$2" "$1"; fi
  # Each layout starts right after a checkpoint (the fill's WAL would otherwise start one at a different point
  # of each): the first write of every page after it is a full-page image, the claim's worst case.
  psql -qAtX -d bench_drain -c "CHECKPOINT"
  psql -qAtX -d bench_drain -c "SELECT pg_stat_statements_reset()" >/dev/null
  "$bin" worker --config "$tmp/default.yaml" 2>>"$tmp/worker.log" & local pid=$!; pids+=($!)
  sleep "${CLAIM_SECONDS:-10}"
  # The claim's time grows with the rows it claims (a claim takes what the free slots and the buffer want):
  # rows per claim and the time per 100 claimed rows beside the mean, and the unkeyed claim on the same
  # 1,000,000 rows (layout none) as the floor the keyed ones are compared with.
  psql -qAtX -d bench_drain -F ' ' -c "
    SELECT sum(calls), round((sum(total_exec_time) / nullif(sum(calls), 0))::numeric, 2), round(max(max_exec_time)::numeric, 2),
           round((sum(rows)::numeric / nullif(sum(calls), 0)), 1), round((sum(total_exec_time) * 100 / nullif(sum(rows), 0))::numeric, 2)
    FROM pg_stat_statements WHERE query LIKE 'WITH caps AS%'" \
    | awk -v l="$1" -v k="$(case "$1" in hot) echo $((1000000 - $2 + 1)) ;; none) echo 0 ;; *) echo "$2" ;; esac)" \
        '{ printf "claim pending=1000000 keys=%s layout=%s claims=%s claim_mean_ms=%s claim_max_ms=%s rows_per_claim=%s ms_per_100_rows=%s\n", k, l, $1, $2, $3, $4, $5 }'
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}
if [ "${CLAIM_SCALE:-1}" = 1 ]; then
  echo "== the claim at 1,000,000 pending attempts with ordering keys (one node, default settings) =="
  claim_at_scale none 0
  claim_at_scale random 100000
  claim_at_scale runs 100000
  claim_at_scale hot 100000
fi
for nodes in 1 2; do
  eval "now=\${rate_default_$nodes:-} then=\${rate_baseline_default_$nodes:-}"
  if [ -n "$now" ] && [ -n "$then" ]; then
    echo "$nodes node(s), default settings, this build / BASELINE_BIN: $(awk -v a="$now" -v b="$then" 'BEGIN { printf "%.2f", a / b }')"
  fi
done
if [ -n "${rate_default_1:-}" ] && [ -n "${rate_tuned_1:-}" ]; then
  echo "one node, default settings / tuned: $(awk -v a="$rate_default_1" -v b="$rate_tuned_1" 'BEGIN { printf "%.2f", a / b }')"
fi
for nodes in 1 2; do
  eval "bounded=\${rate_tuned_transfers128_$nodes:-} unbounded=\${rate_tuned_$nodes:-}"
  if [ -n "$bounded" ] && [ -n "$unbounded" ]; then
    echo "$nodes node(s), tuned with node.http_transfers 128 (at most 128 transfers inside libcurl) / tuned without: $(awk -v a="$bounded" -v b="$unbounded" 'BEGIN { printf "%.2f", a / b }')"
  fi
done

echo "== pickup latency at 1000 attempts/s (target: example-target, recording) =="
psql -qAtX -d bench_drain -c "TRUNCATE async_task_attempts; DELETE FROM async_task_nodes"
# The drains and fills before wrote millions of rows: their checkpoint (and autovacuum's work) would run inside
# this probe and measure the disk, not the pickup path; a steady server is what a producer sees.
psql -qAtX -c "CHECKPOINT"
for db in bench_drain ${BASELINE_BIN:+bench_baseline}; do psql -qAtX -d "$db" -c "VACUUM ANALYZE async_task_attempts"; done
sleep 5
target_port=$(free_port)
"$bin" example-target --port "$target_port" --record "$tmp/calls.jsonl" >/dev/null 2>&1 & pids+=($!)
worker_config "$tmp/example.yaml" "http://127.0.0.1:$target_port/rpc" default
"$bin" worker --config "$tmp/example.yaml" 2>>"$tmp/worker.log" & worker_pid=$!; pids+=($!)
sleep 2
"$bin" bench pickup --database-url "$db_url" --rate 1000 --duration 10 --producers 16 --record "$tmp/calls.jsonl" --lease 60s
if [ -n "${BASELINE_BIN:-}" ]; then
  kill -TERM "$worker_pid"; wait "$worker_pid" 2>/dev/null || true
  # Its own target and call record: ids of the two databases overlap.
  baseline_port=$(free_port)
  "$bin" example-target --port "$baseline_port" --record "$tmp/baseline-calls.jsonl" >/dev/null 2>&1 & pids+=($!)
  db_url=$baseline_url worker_config "$tmp/baseline-example.yaml" "http://127.0.0.1:$baseline_port/rpc" default
  "$BASELINE_BIN" worker --config "$tmp/baseline-example.yaml" 2>>"$tmp/worker.log" & worker_pid=$!; pids+=($!)
  sleep 2
  echo "baseline binary ($BASELINE_BIN, its own database and its own producer):"
  "$BASELINE_BIN" bench pickup --database-url "$baseline_url" --rate 1000 --duration 10 --producers 16 --record "$tmp/baseline-calls.jsonl" --lease 60s
fi
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
