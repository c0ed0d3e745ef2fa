#!/usr/bin/env bash
# The docker-compose.yml topology without Docker: starts the code location server, the webserver
# and the daemon as local processes, with deploy/dagster.yaml and deploy/workspace.yaml, against
# a PostgreSQL and a Redis that already run. Stops exactly the processes it started.
#
#   scripts/stack.sh start     create the databases if missing, start, wait until healthy
#   scripts/stack.sh status    each process: running and healthy, or not
#   scripts/stack.sh stop      stop them (Ctrl-C first, then SIGTERM, then SIGKILL)
#   scripts/stack.sh env       print the exports that point the CLI at this stack
#
# Settings: the environment, then .env (STACK_ENV_FILE), then the defaults below; the README's
# production section lists them. State (pid files, logs, DAGSTER_HOME) goes to STACK_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAMES=(code-server webserver daemon)

load_env_file() {
  # Like docker compose's env_file, but a variable already in the environment wins.
  local file=$1 line key value
  [ -f "$file" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    [[ $line =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    key=${BASH_REMATCH[1]}
    value=${BASH_REMATCH[2]}
    if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then
      value=${BASH_REMATCH[1]}
    else
      value=$(sed -E 's/[[:space:]]+#.*$//; s/[[:space:]]+$//' <<<"$value")
    fi
    [[ -n ${!key+set} ]] || export "$key=$value"
    FILE_KEYS+=("$key")
  done <"$file"
}

FILE_KEYS=()

load_env_file "${STACK_ENV_FILE:-$ROOT/.env}"

STACK_DIR=${STACK_DIR:-$ROOT/data/stack}
export DAGSTER_HOME=${STACK_DAGSTER_HOME:-$STACK_DIR/dagster_home}
BIN=${STACK_BIN:-$ROOT/.venv/bin}
[ -x "$BIN/dagster" ] || BIN=$(dirname "$(command -v dagster || echo /nonexistent/dagster)")

export DAGSTER_POSTGRES_HOST=${DAGSTER_POSTGRES_HOST:-127.0.0.1}
export DAGSTER_POSTGRES_PORT=${DAGSTER_POSTGRES_PORT:-5432}
export DAGSTER_POSTGRES_USER=${DAGSTER_POSTGRES_USER:-${POSTGRES_USER:-postgres}}
export DAGSTER_POSTGRES_PASSWORD=${DAGSTER_POSTGRES_PASSWORD:-${POSTGRES_PASSWORD:-}}
export DAGSTER_POSTGRES_DB=${DAGSTER_POSTGRES_DB:-dagster}
export DAGSTER_CODE_SERVER_HOST=127.0.0.1
export DAGSTER_CODE_SERVER_PORT=${DAGSTER_CODE_SERVER_PORT:-4000}
_pg_auth=$DAGSTER_POSTGRES_USER${DAGSTER_POSTGRES_PASSWORD:+:$DAGSTER_POSTGRES_PASSWORD}
_pg_host=$DAGSTER_POSTGRES_HOST:$DAGSTER_POSTGRES_PORT
export WAREHOUSE_URL=${WAREHOUSE_URL:-postgresql://$_pg_auth@$_pg_host/${WAREHOUSE_DB:-insights}}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
WEBSERVER_BIND=${WEBSERVER_BIND:-127.0.0.1}
WEBSERVER_PORT=${WEBSERVER_PORT:-3000}
STACK_START_TIMEOUT=${STACK_START_TIMEOUT:-120}

RUN_DIR=$STACK_DIR/run
LOG_DIR=$STACK_DIR/log

say() { echo "stack: $*" >&2; }

# Sets CMD to the command line of one process (an array, so paths may hold spaces).
command_of() {
  local workspace=$DAGSTER_HOME/workspace.yaml
  case $1 in
    code-server)
      CMD=("$BIN/dagster" code-server start --host 127.0.0.1 --port "$DAGSTER_CODE_SERVER_PORT"
        --module-name pipelines.definitions --attribute defs --location-name competitor-insights)
      ;;
    webserver)
      CMD=("$BIN/dagster-webserver" --host "$WEBSERVER_BIND" --port "$WEBSERVER_PORT"
        --workspace "$workspace")
      ;;
    daemon) CMD=("$BIN/dagster-daemon" run --workspace "$workspace") ;;
  esac
}

healthy() {
  case $1 in
    code-server)
      "$BIN/dagster" api grpc-health-check --host 127.0.0.1 --port "$DAGSTER_CODE_SERVER_PORT" \
        >/dev/null 2>&1
      ;;
    webserver)
      "$BIN/python" - "$WEBSERVER_PORT" <<'PY' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/server_info", timeout=3)
PY
      ;;
    daemon) "$BIN/dagster-daemon" liveness-check >/dev/null 2>&1 ;;
  esac
}

# The pid in a pid file, if that process is alive and still the one we started: a pid file
# left by a crash may name a pid the system has since given to something else.
live_pid() {
  local file=$RUN_DIR/$1.pid pid
  [ -f "$file" ] || return 1
  pid=$(cat "$file")
  [ -r "/proc/$pid/cmdline" ] || return 1
  command_of "$1"
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "${CMD[0]} ${CMD[1]}" || return 1
  echo "$pid"
}

prepare_home() {
  mkdir -p "$DAGSTER_HOME" "$RUN_DIR" "$LOG_DIR"
  cp "$ROOT/deploy/dagster.yaml" "$ROOT/deploy/workspace.yaml" "$DAGSTER_HOME/"
}

ensure_databases() {
  # dagster-postgres creates its tables but not its database; the warehouse likewise.
  "$BIN/python" - <<'PY'
import os, sys
from urllib.parse import urlsplit, urlunsplit
import psycopg2

def ensure(url, name):
    try:
        conn = psycopg2.connect(url, dbname="postgres", connect_timeout=5)
    except psycopg2.Error as error:
        sys.exit(f"stack: cannot reach PostgreSQL for {name!r}: {str(error).strip()}")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
            print(f"stack: created database {name}", file=sys.stderr)
    conn.close()

env = os.environ
auth = env["DAGSTER_POSTGRES_USER"]
if env["DAGSTER_POSTGRES_PASSWORD"]:
    auth += ":" + env["DAGSTER_POSTGRES_PASSWORD"]
host = f"{env['DAGSTER_POSTGRES_HOST']}:{env['DAGSTER_POSTGRES_PORT']}"
ensure(f"postgresql://{auth}@{host}/postgres", env["DAGSTER_POSTGRES_DB"])
warehouse = env["WAREHOUSE_URL"]
if warehouse.startswith(("postgresql", "postgres:")):
    parts = urlsplit(warehouse)
    plain = urlunsplit(parts._replace(scheme="postgresql", query=""))
    ensure(plain, parts.path.lstrip("/"))
PY
}

set_pools() {
  # Explicit limits for the pools the assets declare, rather than dagster.yaml's default_limit
  # (see the comment there): set before the daemon starts, so before any run needs them.
  "$BIN/dagster" instance concurrency set serper "${SERPER_POOL_LIMIT:-2}" >/dev/null &
  "$BIN/dagster" instance concurrency set llm "${LLM_POOL_LIMIT:-2}" >/dev/null &
  wait
}

check_redis() {
  "$BIN/python" - <<'PY' || say "warning: Redis at REDIS_URL does not answer; runs will pace themselves and use no cache"
import os, redis
redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=2).ping()
PY
}

start_one() {
  local name=$1 pid
  if pid=$(live_pid "$name"); then
    say "$name already running (pid $pid)"
    return 0
  fi
  # setsid: each process leads its own session and process group, so it receives signals
  # (background jobs of a script ignore SIGINT) and `stop` can end it with its children.
  command_of "$name"
  (cd "$ROOT" && exec setsid "${CMD[@]}" >>"$LOG_DIR/$name.log" 2>&1 </dev/null) &
  echo $! >"$RUN_DIR/$name.pid"
  say "$name started (pid $!), log $LOG_DIR/$name.log"
}

wait_healthy() {
  local name=$1 deadline=$((SECONDS + STACK_START_TIMEOUT))
  until healthy "$name"; do
    if ! live_pid "$name" >/dev/null; then
      say "$name exited; last lines of $LOG_DIR/$name.log:"
      tail -n 20 "$LOG_DIR/$name.log" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      say "$name not healthy after ${STACK_START_TIMEOUT}s; see $LOG_DIR/$name.log"
      return 1
    fi
    sleep 1
  done
  say "$name healthy"
}

stop_one() {
  local name=$1 pid signal tries started=$SECONDS
  if ! pid=$(live_pid "$name"); then
    rm -f "$RUN_DIR/$name.pid"
    return 0
  fi
  # The whole process group: the code location server's gRPC child and any run it launched.
  for signal in INT TERM KILL; do
    kill -s "$signal" -- "-$pid" 2>/dev/null || true
    for tries in $(seq 1 100); do
      kill -0 -- "-$pid" 2>/dev/null || break 2
      sleep 0.1
    done
    say "$name (pid $pid) still running 10s after SIG$signal"
  done
  rm -f "$RUN_DIR/$name.pid"
  say "$name stopped (SIG$signal, $((SECONDS - started))s)"
}

case ${1:-} in
  start)
    start_started=$SECONDS
    prepare_home
    ensure_databases
    set_pools
    check_redis
    # The code location server first: the webserver and the daemon load their workspace from it.
    start_one code-server
    wait_healthy code-server || { "$0" stop; exit 1; }
    start_one webserver
    start_one daemon
    wait_healthy webserver || { "$0" stop; exit 1; }
    wait_healthy daemon || { "$0" stop; exit 1; }
    say "up in $((SECONDS - start_started))s: http://$WEBSERVER_BIND:$WEBSERVER_PORT (DAGSTER_HOME=$DAGSTER_HOME)"
    ;;
  stop)
    # All at once (each takes about 3 s to shut down cleanly); the daemon is signalled first so
    # that it launches nothing while the code location server goes away.
    for name in daemon webserver code-server; do stop_one "$name" & sleep 0.2; done
    wait
    ;;
  status)
    failed=0
    for name in "${NAMES[@]}"; do
      if pid=$(live_pid "$name"); then
        if healthy "$name"; then echo "$name: running (pid $pid), healthy"
        else echo "$name: running (pid $pid), NOT healthy"; failed=1; fi
      else
        echo "$name: stopped"; failed=1
      fi
    done
    exit $failed
    ;;
  env)
    # The settings of the stack's processes, so that a command run in this shell (track,
    # request, status) uses the same instance, warehouse and data source as the stack's runs.
    for var in DAGSTER_HOME DAGSTER_POSTGRES_HOST DAGSTER_POSTGRES_PORT DAGSTER_POSTGRES_USER \
      DAGSTER_POSTGRES_PASSWORD DAGSTER_POSTGRES_DB WAREHOUSE_URL REDIS_URL "${FILE_KEYS[@]}"; do
      printf 'export %s=%q\n' "$var" "${!var}"
    done | awk '!seen[$0]++'
    ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
