#!/usr/bin/env bash
# Runs a command against a private, throwaway PostgreSQL: initdb into a temp dir, a free port, unix socket in
# the same dir; the server is stopped and the dir removed however the command ends.
#   scripts/with-postgres.sh COMMAND [ARG …]
# The command sees ASYNCTASK_TEST_DATABASE_URL (superuser `asynctask`, database `postgres`), PGHOST/PGPORT/PGUSER/
# PGDATABASE for psql and pgbench, ASYNCTASK_TEST_PGDATA and ASYNCTASK_TEST_PGCTL (a script taking pg_ctl verbs,
# e.g. `restart -m fast`, for tests that restart the server).
# PG_SETTINGS adds server settings (default: durability off, since test data is throwaway).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/pg-env.sh"
dir=$(mktemp -d /tmp/asynctask-pg.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
port=$(free_port)
cleanup() {
  as_pg "$pg_bin/pg_ctl" -D "$dir/data" stop -m immediate >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
as_pg "$pg_bin/initdb" -D "$dir/data" -U asynctask --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
settings="${PG_SETTINGS:--c fsync=off -c synchronous_commit=off -c full_page_writes=off}"
opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=256MB $settings"
cat >"$dir/pgctl" <<SH
#!/usr/bin/env bash
# pg_ctl for this private server: \$1 is the verb (start, stop, restart), the rest is passed through.
verb=\$1; shift
if [ "\$(id -u)" -eq 0 ]; then run=(runuser -u postgres --); else run=(); fi
exec "\${run[@]}" "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "$opts" "\$verb" "\$@"
SH
chmod 755 "$dir/pgctl"
"$dir/pgctl" start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=asynctask PGDATABASE=postgres
export ASYNCTASK_TEST_DATABASE_URL="postgresql://asynctask@127.0.0.1:$port/postgres"
export ASYNCTASK_TEST_PGDATA="$dir/data" ASYNCTASK_TEST_PGCTL="$dir/pgctl"
echo "private PostgreSQL on 127.0.0.1:$port ($dir)" >&2
"$@"
