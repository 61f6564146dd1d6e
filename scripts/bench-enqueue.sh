#!/usr/bin/env bash
# Enqueue throughput, side by side with pgbench running the same INSERT on the same server in the same run.
#   scripts/with-postgres.sh scripts/bench-enqueue.sh        (make bench-enqueue does this)
# Env: DURATION seconds per measurement (default 10), ASYNCTASK_BIN (default .build/release/asynctask).
# Prints one line per measurement and the ratios the foundation issue asks for.
set -euo pipefail
bin="${ASYNCTASK_BIN:-.build/release/asynctask}"
duration="${DURATION:-10}"
url="${ASYNCTASK_TEST_DATABASE_URL:?run through scripts/with-postgres.sh}"
export PGOPTIONS="-c client_min_messages=warning"
psql -qAtX -c "DROP DATABASE IF EXISTS bench_enqueue" -c "CREATE DATABASE bench_enqueue"
db_url="${url%/*}/bench_enqueue"
"$bin" migrate --database-url "$db_url" >/dev/null
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# The statement AttemptQueue.enqueue runs (AttemptQueue.insertOne), one attempt per transaction.
cat > "$tmp/insert.sql" <<'SQL'
BEGIN;
INSERT INTO async_task_attempts (target, method_name, method_args, idempotence_token, scheduled_at, priority, max_attempts)
VALUES ('OrderClient', 'fulfill', '{"customer_token":"c_1","order_number":0}'::jsonb, NULL, NULL, 0, NULL)
ON CONFLICT (target, method_name, idempotence_token) WHERE idempotence_token IS NOT NULL DO NOTHING RETURNING id;
COMMIT;
SQL
pgbench_tps() {
  pgbench -d bench_enqueue -n -M prepared -c "$1" -j "$(( $1 < 2 ? 1 : 2 ))" -T "$duration" -f "$tmp/insert.sql" 2>&1 \
    | awk '/^tps = / { printf "%d", $3 }'
}
ours() { "$bin" bench enqueue --database-url "$db_url" --duration "$duration" "$@" | awk -F'value=' '{ print $2 }'; }
for producers in 1 8; do
  a=$(ours --producers "$producers"); p=$(pgbench_tps "$producers")
  echo "single enqueue, $producers producer(s): asynctask=${a} tx/s  pgbench=${p} tx/s  ratio=$(awk -v a="$a" -v p="$p" 'BEGIN { printf "%.2f", a / p }')"
done
b=$(ours --producers 1 --batch-size 10000)
# The same rows through psql's \copy (30 COPYs of 10000 rows in one session, each its own transaction, from a
# file): the server's bulk-load rate with ids drawn row by row, as a plain-SQL producer would get it.
for i in $(seq 0 9999); do printf 'OrderClient\tfulfill\t{"customer_token":"c_1","order_number":%d}\n' "$i"; done >"$tmp/rows.tsv"
chmod 644 "$tmp/rows.tsv"; chmod 755 "$tmp"
copies=30; start=$(date +%s.%N)
for _ in $(seq 1 "$copies"); do echo "\\copy async_task_attempts (target, method_name, method_args) FROM '$tmp/rows.tsv'"; done \
  | psql -qAtX -d bench_enqueue
c=$(awk -v n="$copies" -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%d", n * 10000 / (e - s) }')
echo "batch enqueue (10000 per statement, 1 producer): asynctask=${b} rows/s  psql \\copy=${c} rows/s  ratio=$(awk -v a="$b" -v p="$c" 'BEGIN { printf "%.2f", a / p }')  goal=200000 rows/s"
