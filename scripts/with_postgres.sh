#!/usr/bin/env bash
# Runs a command next to a throwaway PostgreSQL server: installs the server if it is absent
# (Debian), creates a cluster in a temporary folder listening on a free loopback port with
# trust authentication, creates the database `optimlab_test`, exports
#   OPTIMLAB_TEST_POSTGRES=postgres://postgres@127.0.0.1:PORT/optimlab_test
# runs the command, then stops the server and deletes the folder, whatever the command did.
# Usage: scripts/with_postgres.sh CMD [ARGS...]   (exits with the command's status)
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

find_bin() {
  local dir
  if command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v initdb)")"
    return
  fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ]; then
      echo "$dir"
      return
    fi
  done
}

PG_BIN="$(find_bin)"
if [ -z "$PG_BIN" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "with_postgres: PostgreSQL (initdb) is not installed and installing needs root" >&2
    exit 1
  fi
  echo "with_postgres: installing PostgreSQL" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  PG_BIN="$(find_bin)"
  if [ -z "$PG_BIN" ]; then
    echo "with_postgres: initdb not found after installing postgresql" >&2
    exit 1
  fi
fi

# The server refuses to run as root: as root, run it as the `postgres` user.
AS=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  fi
  if command -v runuser >/dev/null 2>&1; then
    AS=(runuser -u postgres --)
  else
    AS=(su postgres -s /bin/sh -c)
  fi
fi

as_pg() {
  if [ "${#AS[@]}" -eq 0 ]; then
    "$@"
  elif [ "${AS[0]}" = su ]; then
    "${AS[@]}" "$(printf '%q ' "$@")"
  else
    "${AS[@]}" "$@"
  fi
}

DATA_ROOT="$(mktemp -d "${TMPDIR:-/tmp}/optimlab-pg.XXXXXX")"
[ "${#AS[@]}" -eq 0 ] || chown postgres: "$DATA_ROOT"
DATA="$DATA_ROOT/data"
STARTED=0

cleanup() {
  if [ "$STARTED" -eq 1 ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DATA_ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_pg "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --no-sync >"$DATA_ROOT/initdb.log" 2>&1 || {
  echo "with_postgres: initdb failed:" >&2
  cat "$DATA_ROOT/initdb.log" >&2
  exit 1
}

# A free loopback port: try random ones until the server starts on one (another process may
# take a port between the check and the start).
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=""
for _ in $(seq 1 20); do
  candidate=$((20000 + RANDOM % 40000))
  port_in_use "$candidate" && continue
  if as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$DATA_ROOT/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $candidate -k $DATA_ROOT -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null 2>&1; then
    PORT="$candidate"
    STARTED=1
    break
  fi
done
if [ -z "$PORT" ]; then
  echo "with_postgres: the server did not start; its log:" >&2
  cat "$DATA_ROOT/server.log" >&2 || true
  exit 1
fi

"$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres optimlab_test
export OPTIMLAB_TEST_POSTGRES="postgres://postgres@127.0.0.1:$PORT/optimlab_test"
echo "with_postgres: PostgreSQL $("$PG_BIN/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2

status=0
"$@" || status=$?
exit "$status"
