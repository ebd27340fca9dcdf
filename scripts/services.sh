#!/usr/bin/env bash
# Starts the two backing services AnalyticsEngine needs -- PostgreSQL 15 and Redis -- on loopback,
# each with a private data directory under .run/, installing them from Debian packages if missing.
#
# Usage:
#   scripts/services.sh            start both (no-op when they already answer)
#   scripts/services.sh start      same
#   scripts/services.sh stop       stop the instances this repository started (never anyone else's)
#   scripts/services.sh status     say what answers on the two ports
#   scripts/services.sh restart-postgres
#                                  fast restart of this checkout's PostgreSQL (every connection is cut;
#                                  the fault tests use it to restart the database during ingest)
#
# Connection strings for the product and the tests:
#   ConnectionStrings__Postgres="Host=127.0.0.1;Port=55432;Username=analytics;Password=analytics;Database=analytics"
#   ConnectionStrings__Redis="127.0.0.1:56379"
#
# Ports can be moved with AE_PG_PORT / AE_REDIS_PORT (the connection strings then change with them).
# If something already serves a port and accepts the analytics credentials (e.g. an instance started
# from another checkout), it is used as is: the script only ever starts or stops its own instances.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="$REPO/.run"
PG_PORT="${AE_PG_PORT:-55432}"
REDIS_PORT="${AE_REDIS_PORT:-56379}"
PG_VERSION=15
PG_BIN="/usr/lib/postgresql/$PG_VERSION/bin"
PG_ROOT="$RUN/pg"
PG_DIR="$PG_ROOT" # real path of PG_ROOT, set by resolve_pg_dir; what the postgres OS user is given
LOGS="$RUN/logs"
REDIS_DIR="$RUN/redis"
DB_USER=analytics
DB_PASSWORD=analytics
DB_NAME=analytics
# Parallel workers per query besides its own backend: one per further core, at most 4.
PG_PARALLEL_WORKERS=$(( $(nproc) > 5 ? 4 : $(nproc) - 1 ))
# Shared buffers: a quarter of the machine's memory, PostgreSQL's own starting advice, where huge pages back them
# (reserve_huge_pages); on normal pages the 256 MB of before. A table scanned whole must fit in a quarter of the
# buffers to stay there: a larger one is read through a small ring instead, every page copied from the kernel again
# on every scan (a bare count of a year of 10 million orders, 1.3 GB: 0.8–1.2 s that way, 0.55–0.65 s from the
# buffers on huge pages). The options go on the server's command line, so that they hold for data directories of
# any age and follow the machine; a restart keeps them.
PG_LARGE_BUFFERS_MB=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 4 / 1024 ))
PG_SERVER_OPTIONS="-c shared_buffers=256MB"

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Installation (only what is missing; apt-get update only when an install is actually needed)
# ---------------------------------------------------------------------------------------------
install_missing() {
  local packages=()
  [[ -x "$PG_BIN/postgres" && -x "$PG_BIN/initdb" ]] || packages+=("postgresql-$PG_VERSION")
  command -v psql >/dev/null 2>&1 || packages+=("postgresql-client-$PG_VERSION")
  command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
  command -v redis-cli >/dev/null 2>&1 || packages+=(redis-tools)
  ((${#packages[@]} == 0)) && return 0

  [[ $(id -u) -eq 0 ]] || die "missing ${packages[*]}; run as root or install them first"
  log "installing ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$LOGS/apt-update.log" 2>&1 || { cat "$LOGS/apt-update.log" >&2; die "apt-get update failed"; }
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >"$LOGS/apt-install.log" 2>&1 \
    || { tail -n 30 "$LOGS/apt-install.log" >&2; die "apt-get install failed"; }
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------
as_postgres() {
  if [[ $(id -u) -eq 0 ]]; then
    # From / because the postgres user may not be allowed into the current directory.
    (cd / && runuser -u postgres -- "$@")
  else
    # Not root: the server simply runs as the invoking user.
    "$@"
  fi
}

# The server runs as the postgres OS user, which must be able to reach the data directory. A clone
# under a private home directory (mode 700) is not reachable, so the data then lives in a private
# directory under /var/tmp keyed by the repository path, with .run/pg pointing at it.
prepare_pg_root() {
  if [[ -e "$PG_ROOT" ]]; then return 0; fi
  if [[ $(id -u) -ne 0 ]] || runuser -u postgres -- test -x "$RUN" 2>/dev/null; then
    mkdir -p "$PG_ROOT"
  else
    local alt
    alt="/var/tmp/analyticsengine-pg-$(printf '%s' "$REPO" | sha1sum | cut -c1-12)"
    mkdir -p "$alt"
    ln -s "$alt" "$PG_ROOT"
    log "postgres cannot reach $RUN; its data lives in $alt"
  fi
  [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$PG_ROOT/" && chmod 700 "$PG_ROOT/"
  return 0
}

# Every path handed to the postgres user must avoid the unreachable link, so use the real one.
resolve_pg_dir() {
  if [[ -e "$PG_ROOT" ]]; then PG_DIR="$(readlink -f "$PG_ROOT")"; else PG_DIR="$PG_ROOT"; fi
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2 >/dev/null 2>&1; }

pg_credentials_ok() {
  PGPASSWORD="$DB_PASSWORD" PGCONNECT_TIMEOUT=3 psql -X -q -w -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d "$DB_NAME" \
    -tAc 'select 1' >/dev/null 2>&1
}

pg_ours_running() {
  [[ -f "$PG_DIR/data/postmaster.pid" ]] && as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1
}

wait_for_pg() {
  local i
  for ((i = 0; i < 120; i++)); do
    pg_ready && return 0
    sleep 0.5
  done
  return 1
}

pg_init() {
  [[ -f "$PG_DIR/data/PG_VERSION" ]] && return 0
  log "initialising PostgreSQL data directory $PG_DIR/data"
  mkdir -p "$PG_DIR/data" "$PG_DIR/sock"
  [[ $(id -u) -eq 0 ]] && chown -R postgres:postgres "$PG_DIR/"
  # Local (socket) access is trusted because the socket lives in a private directory; TCP needs a password.
  as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$LOGS/initdb.log" 2>&1 \
    || { cat "$LOGS/initdb.log" >&2; die "initdb failed"; }

  local preload=""
  if ls "$("$PG_BIN/pg_config" --pkglibdir)"/timescaledb*.so >/dev/null 2>&1; then
    preload="shared_preload_libraries = 'timescaledb'"
  fi
  cat >>"$PG_DIR/data/postgresql.conf" <<EOF

# --- AnalyticsEngine development instance (written by scripts/services.sh) ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR/sock'
# Several silos, a gateway and test hosts each keep a connection pool.
max_connections = 300
work_mem = 16MB
maintenance_work_mem = 128MB
max_wal_size = 2GB
logging_collector = off
$preload
EOF
}

pg_bootstrap_database() {
  local sock="$PG_DIR/sock"
  as_postgres psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$PG_PORT" -U postgres -d postgres <<SQL >/dev/null
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD';
  END IF;
END
\$\$;
-- CREATEDB lets tests build throwaway databases (e.g. migrating an empty one from scratch).
ALTER ROLE $DB_USER CREATEDB;
-- A query over a year of raw rows is split between the backend and parallel workers; more processes than cores only
-- take turns (on 2 cores, 2 workers made it 1.4 times slower than 1). Applied to older data directories too.
ALTER SYSTEM SET max_parallel_workers_per_gather = $PG_PARALLEL_WORKERS;
SELECT pg_reload_conf();
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$DB_NAME')
\gexec
SQL
  # TimescaleDB is optional: the schema detects it and falls back to plain PostgreSQL when absent.
  local available
  available=$(as_postgres psql -X -tA -h "$sock" -p "$PG_PORT" -U postgres -d "$DB_NAME" \
    -c "select count(*) from pg_available_extensions where name = 'timescaledb'")
  if [[ "$available" == "1" ]]; then
    if as_postgres psql -X -q -h "$sock" -p "$PG_PORT" -U postgres -d "$DB_NAME" \
      -c 'CREATE EXTENSION IF NOT EXISTS timescaledb' >/dev/null 2>&1; then
      log "TimescaleDB extension enabled"
    else
      log "TimescaleDB is available but could not be enabled; plain PostgreSQL it is"
    fi
  fi
}

# Huge pages for the shared buffers, where the kernel lets root reserve them. Every parallel worker is a new process
# that maps the buffers afresh: with 4 kB pages its first touch of a year's 1.3 GB cost a page fault per page (a
# year's bare count took 0.95–1.1 s with 8 GB of buffers on them, and 1.4–1.8 s for the whole query, slower than
# 256 MB). So the large buffers come only with the pages reserved here, recorded with the machine's boot id (a reboot
# gives them back by itself) and given back when this script stops the server or finds it gone.
HUGE_PAGES_FILE=/proc/sys/vm/nr_hugepages
HUGE_PAGES_MARK="$RUN/huge-pages"
boot_id() { cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown; }

reserve_huge_pages() {
  local large="-c shared_buffers=${PG_LARGE_BUFFERS_MB}MB -c huge_pages=try" needed current
  if [[ -f "$HUGE_PAGES_MARK" && "$(cut -d' ' -f1 "$HUGE_PAGES_MARK")" == "$(boot_id)" ]]; then
    PG_SERVER_OPTIONS="$large" # still reserved for a server that ended without this script
    return 0
  fi
  rm -f "$HUGE_PAGES_MARK"
  [[ $(id -u) -eq 0 && -w "$HUGE_PAGES_FILE" ]] || return 0
  needed=$(as_postgres "$PG_BIN/postgres" -D "$PG_DIR/data" $large -C shared_memory_size_in_huge_pages 2>/dev/null) || return 0
  [[ "$needed" =~ ^[0-9]+$ ]] || return 0
  current=$(cat "$HUGE_PAGES_FILE")
  { echo $((current + needed)) >"$HUGE_PAGES_FILE"; } 2>/dev/null || return 0
  if (($(cat "$HUGE_PAGES_FILE") >= current + needed)); then
    echo "$(boot_id) $needed" >"$HUGE_PAGES_MARK"
    PG_SERVER_OPTIONS="$large"
  else
    { echo "$current" >"$HUGE_PAGES_FILE"; } 2>/dev/null || true # too little free memory: none rather than too few
  fi
}

release_huge_pages() {
  [[ -f "$HUGE_PAGES_MARK" ]] || return 0
  local boot reserved current
  read -r boot reserved <"$HUGE_PAGES_MARK"
  rm -f "$HUGE_PAGES_MARK"
  [[ "$boot" == "$(boot_id)" && "$reserved" =~ ^[0-9]+$ && -w "$HUGE_PAGES_FILE" ]] || return 0
  current=$(cat "$HUGE_PAGES_FILE")
  { echo $((current > reserved ? current - reserved : 0)) >"$HUGE_PAGES_FILE"; } 2>/dev/null || true
}

start_pg() {
  if pg_ready; then
    if pg_ours_running; then
      # Cheap and idempotent; brings roles and databases of an older data directory up to date.
      pg_bootstrap_database
      pg_credentials_ok || die "own PostgreSQL on port $PG_PORT rejects the analytics credentials after bootstrap"
      log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
      return 0
    fi
    if pg_credentials_ok; then
      log "PostgreSQL on 127.0.0.1:$PG_PORT is another instance that accepts the analytics credentials; using it"
      return 0
    fi
    die "port $PG_PORT is served by a PostgreSQL that rejects $DB_USER/$DB_PASSWORD@$DB_NAME; stop it or set AE_PG_PORT"
  fi

  prepare_pg_root
  resolve_pg_dir
  pg_init
  mkdir -p "$PG_DIR/sock"
  [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$PG_DIR/sock"
  reserve_huge_pages
  log "starting PostgreSQL $PG_VERSION on 127.0.0.1:$PG_PORT (data: $PG_ROOT/data; $PG_SERVER_OPTIONS)"
  # The server writes its own log, so it lives where the postgres user can reach; .run/logs links to it.
  touch "$PG_DIR/postgres.log"
  [[ $(id -u) -eq 0 ]] && chown postgres "$PG_DIR/postgres.log"
  [[ "$PG_DIR/postgres.log" -ef "$LOGS/postgres.log" ]] || ln -sfn "$PG_DIR/postgres.log" "$LOGS/postgres.log"
  if ! as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -o "$PG_SERVER_OPTIONS" -w -t 60 start >/dev/null 2>&1 9>&-; then
    # Lost a race with another checkout starting its own instance on the same port? Use that one.
    release_huge_pages
    if wait_for_pg && pg_credentials_ok; then
      log "another PostgreSQL took port $PG_PORT meanwhile and accepts the analytics credentials; using it"
      return 0
    fi
    tail -n 30 "$LOGS/postgres.log" >&2
    die "PostgreSQL failed to start (log: $LOGS/postgres.log)"
  fi
  wait_for_pg || die "PostgreSQL did not accept connections within 60 s (log: $LOGS/postgres.log)"
  pg_bootstrap_database
  pg_credentials_ok || die "PostgreSQL is up but rejects the analytics credentials"
}

stop_pg() {
  if pg_ours_running; then
    log "stopping PostgreSQL"
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null
    release_huge_pages
  else
    log "no PostgreSQL of this repository is running"
    release_huge_pages
  fi
}

restart_pg() {
  pg_ours_running || die "the PostgreSQL on port $PG_PORT was not started by this checkout; restart it yourself"
  # The data directory's server must be the one on the requested port, never a neighbour's.
  [[ "$(sed -n 4p "$PG_DIR/data/postmaster.pid")" == "$PG_PORT" ]] \
    || die "this checkout's PostgreSQL listens on port $(sed -n 4p "$PG_DIR/data/postmaster.pid"), not $PG_PORT"
  log "restarting PostgreSQL"
  # Without -o, pg_ctl restarts the server with the options it was started with (shared buffers, huge pages).
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -m fast -w -t 60 restart >/dev/null 2>&1 9>&- \
    || { tail -n 30 "$LOGS/postgres.log" >&2; die "PostgreSQL failed to restart (log: $LOGS/postgres.log)"; }
  wait_for_pg || die "PostgreSQL did not accept connections within 60 s of its restart"
}

# ---------------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------------
redis_ready() { [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]; }

redis_ours_pid() {
  local pid
  [[ -f "$REDIS_DIR/redis.pid" ]] || return 1
  pid=$(cat "$REDIS_DIR/redis.pid")
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q redis-server || return 1
  echo "$pid"
}

start_redis() {
  if redis_ready; then
    if redis_ours_pid >/dev/null; then log "Redis already running on 127.0.0.1:$REDIS_PORT"; else
      log "Redis on 127.0.0.1:$REDIS_PORT is another instance; using it"; fi
    return 0
  fi
  mkdir -p "$REDIS_DIR"
  log "starting Redis on 127.0.0.1:$REDIS_PORT (dir: $REDIS_DIR)"
  # Membership and caches only: nothing needs to survive a restart, so persistence is off.
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" \
    --save '' --appendonly no --daemonize yes \
    --pidfile "$REDIS_DIR/redis.pid" --logfile "$LOGS/redis.log" </dev/null >/dev/null 2>&1 9>&-
  local i
  for ((i = 0; i < 100; i++)); do
    redis_ready && return 0
    sleep 0.2
  done
  tail -n 20 "$LOGS/redis.log" >&2 || true
  die "Redis did not answer PING within 20 s (log: $LOGS/redis.log)"
}

stop_redis() {
  local pid
  if pid=$(redis_ours_pid); then
    log "stopping Redis (pid $pid)"
    kill "$pid"
    local i
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || { rm -f "$REDIS_DIR/redis.pid"; return 0; }
      sleep 0.2
    done
    die "Redis (pid $pid) did not stop"
  else
    log "no Redis of this repository is running"
  fi
}

# ---------------------------------------------------------------------------------------------
main() {
  local command="${1:-start}"
  mkdir -p "$RUN" "$LOGS"
  # Serialise concurrent invocations from this checkout (e.g. run.sh and test.sh started together).
  # The servers are started with this descriptor closed so that they do not keep holding the lock.
  exec 9>"$RUN/services.lock"
  flock -w 300 9 || die "another services.sh of this checkout holds $RUN/services.lock"

  resolve_pg_dir
  case "$command" in
    start)
      install_missing
      start_pg
      start_redis
      log "ready: ConnectionStrings__Postgres=\"Host=127.0.0.1;Port=$PG_PORT;Username=$DB_USER;Password=$DB_PASSWORD;Database=$DB_NAME\""
      log "ready: ConnectionStrings__Redis=\"127.0.0.1:$REDIS_PORT\""
      ;;
    stop)
      stop_redis
      [[ -x "$PG_BIN/pg_ctl" ]] && stop_pg
      ;;
    restart-postgres)
      restart_pg
      ;;
    status)
      if pg_ready; then echo "postgres: up on 127.0.0.1:$PG_PORT$(pg_ours_running && echo ' (this checkout)')"; else echo "postgres: down"; fi
      if redis_ready; then echo "redis: up on 127.0.0.1:$REDIS_PORT$(redis_ours_pid >/dev/null && echo ' (this checkout)')"; else echo "redis: down"; fi
      ;;
    *) die "usage: $0 [start|stop|status|restart-postgres]" ;;
  esac
}

main "$@"
