# Sourced by the scripts that run a private PostgreSQL. Defines pg_bin and as_pg.
pg_bin="${PG_BIN:-}"
if [ -z "$pg_bin" ]; then
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then pg_bin=$(pg_config --bindir); fi
  for d in /usr/lib/postgresql/*/bin; do [ -z "$pg_bin" ] && [ -x "$d/initdb" ] && pg_bin=$d; done
fi
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || { echo "error: PostgreSQL server binaries (initdb, pg_ctl) not found; install the 'postgresql' package" >&2; exit 1; }
# PostgreSQL refuses to run as root: run its programs as the postgres OS user then.
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
