# Sourced by the worker benchmarks (bench-drain.sh, bench-batch.sh): the steps they share, so that every figure
# they print comes from the same recipe. Needs pg-env.sh sourced first and these set by the caller:
#   bin (the asynctask binary), url (the server's ASYNCTASK_TEST_DATABASE_URL), attempts, ceiling (sql-ceiling.sh),
#   tmp (a scratch directory), pids (an array; processes started here are appended for the caller's cleanup).

# bench_ceiling: runs the bare-SQL ceiling on the same server; sets and prints ceiling_rate.
bench_ceiling() {
  echo "== bare-SQL ceiling (sql-ceiling.sh, batches of 100, 4 clients, ${DURATION:-15} s) =="
  ceiling_rate=$(DURATION="${DURATION:-15}" PRELOAD="${PRELOAD:-1500000}" "$ceiling" | sed -n 's/^sql_ceiling_jobs_per_s=//p')
  echo "sql_ceiling_jobs_per_s=$ceiling_rate"
}

# bench_database NAME: a fresh, migrated database NAME on the server; sets bench_db and db_url.
bench_database() {
  bench_db=$1
  db_url="${url%/*}/$bench_db"
  psql -qAtX -c "DROP DATABASE IF EXISTS $bench_db" -c "CREATE DATABASE $bench_db"
  "$bin" migrate --database-url "$db_url" >/dev/null
}

# bench_fill COUNT [KEYS [LAYOUT]]: empties the attempts table and enqueues COUNT OrderClient.fulfill attempts in one
# statement; with KEYS, each with one of KEYS ordering keys: LAYOUT random (default: each row's key drawn at random,
# as the events of many aggregates interleave), runs (COUNT / KEYS consecutive rows per key) or hot (the first KEYS
# rows all share one key, the rest have their own: one key's deep backlog ahead of everything else).
bench_fill() {
  psql -qAtX -d "$bench_db" -c "TRUNCATE async_task_attempts; DELETE FROM async_task_nodes"
  local key=NULL
  if [ -n "${2:-}" ]; then
    case "${3:-random}" in
      random) key="'k' || floor(random() * $2)::bigint" ;;
      runs) key="'k' || (g / ($1 / $2))" ;;
      hot) key="CASE WHEN g <= $2 THEN 'hot' ELSE 'k' || g END" ;;
      *) echo "bench_fill: unknown layout $3" >&2; return 2 ;;
    esac
  fi
  # Keyed rows go in after a first small batch and an ANALYZE, for a BASELINE_BIN build older than schema v12:
  # its parking trigger's query was planned once per session and could stay a scan of the table for the whole
  # insert (quadratic: one 200,000-row INSERT ran for over 12 minutes). Version 12's lookups do not depend on it.
  local first=1
  if [ -n "${2:-}" ]; then
    first=$(( $1 < 1000 ? $1 : 1000 ))
    psql -qAtX -d "$bench_db" -c "INSERT INTO async_task_attempts (target, method_name, method_args, ordering_key) SELECT 'OrderClient', 'fulfill', jsonb_build_object('order_number', g), $key FROM generate_series(1, $first) g"
    psql -qAtX -d "$bench_db" -c "ANALYZE async_task_attempts"
    first=$((first + 1))
  fi
  # Without keys the column is left out, so an older schema (BASELINE_BIN's database) takes the same rows.
  psql -qAtX -d "$bench_db" -c "INSERT INTO async_task_attempts (target, method_name, method_args${2:+, ordering_key}) SELECT 'OrderClient', 'fulfill', jsonb_build_object('order_number', g)${2:+, $key} FROM generate_series($first, $1) g"
  psql -qAtX -d "$bench_db" -c "VACUUM ANALYZE async_task_attempts"
}

# bench_cpu_ticks PID…: user+system CPU clock ticks the processes used so far.
bench_cpu_ticks() {
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    total=$(( total + $(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat") ))
  done
  echo "$total"
}

# bench_pg_ticks: CPU ticks of the PostgreSQL server so far: the postmaster, its live children and its reaped ones.
bench_pg_ticks() {
  local data; data=$(psql -qAtX -c "SHOW data_directory")
  local postmaster; postmaster=$(head -1 "$data/postmaster.pid")
  local own; own=$(awk '{ sub(/.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$postmaster/stat")
  echo $(( own + $(bench_cpu_ticks $(cat "/proc/$postmaster/task/$postmaster/children" 2>/dev/null)) ))
}

# bench_drain NODES CONFIG [LABEL]: drains the table with NODES `asynctask worker --config CONFIG`; prints the rate
# and its ratio to ceiling_rate, and sets drain_rate, drain_seconds and node_ticks (the nodes' CPU ticks).
bench_drain() {
  local count; count=$(psql -qAtX -d "$bench_db" -c "SELECT count(*) FROM async_task_attempts WHERE status = 'pending'")
  local started; started=$(date +%s.%N)
  local node_pids=() n pid
  for n in $(seq 1 "$1"); do "$bin" worker --config "$2" 2>>"$tmp/worker.log" & node_pids+=($!); pids+=($!); done
  # The end is the last completion the nodes recorded, not when this loop noticed it, so the probe can be
  # rare: each one scans the table (~20-40 ms of the server's CPU) while the drain it measures runs.
  while [ "$(psql -qAtX -d "$bench_db" -c "SELECT EXISTS (SELECT 1 FROM async_task_attempts WHERE status = 'pending')")" = t ]; do sleep 1; done
  local finished; finished=$(psql -qAtX -d "$bench_db" -c "SELECT extract(epoch FROM max(completed_at)) FROM async_task_attempts")
  node_ticks=$(bench_cpu_ticks "${node_pids[@]}")
  for pid in "${node_pids[@]}"; do kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; done
  drain_seconds=$(awk -v a="$started" -v b="$finished" 'BEGIN { printf "%.3f", b - a }')
  drain_rate=$(awk -v n="$count" -v s="$drain_seconds" 'BEGIN { printf "%d", n / s }')
  echo "drain ${3:+$3 }nodes=$1 attempts=$count attempts_per_s=$drain_rate ratio_to_ceiling=$(awk -v r="$drain_rate" -v c="$ceiling_rate" 'BEGIN { printf "%.2f", r / c }')"
}
