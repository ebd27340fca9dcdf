#!/usr/bin/env bash
# Runs AnalyticsEngine locally: PostgreSQL + Redis, one or more silos, the gateway and the demo feed.
#
# Usage:
#   scripts/run.sh                 one silo
#   SILOS=3 scripts/run.sh         three silos (silo i: silo port 11111+i, gateway port 30000+i, health 5090+i)
#   GATEWAY_PORT=5080              HTTP port of the gateway (default 5080)
#   DEMO_CLIENTS=3 DEMO_RATE=20    demo feed: number of clients and orders per second (DEMO_CLIENTS=0: no feed)
#
# The silos apply the schema migrations themselves when they start. Logs go to .run/logs/.
# Prints "Open http://127.0.0.1:5080/" when everything answers, then runs until Ctrl-C, which stops the
# processes this script started (the database and Redis keep running; scripts/services.sh stop ends them).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

SILOS="${SILOS:-1}"
GATEWAY_PORT="${GATEWAY_PORT:-5080}"
DEMO_CLIENTS="${DEMO_CLIENTS:-3}"
DEMO_RATE="${DEMO_RATE:-20}"
LOGS="$REPO/.run/logs"
READY_TIMEOUT_S="${READY_TIMEOUT_S:-180}"

[[ "$SILOS" =~ ^[1-9][0-9]*$ ]] || { echo "SILOS must be a positive integer" >&2; exit 2; }
[[ "$DEMO_CLIENTS" =~ ^[0-9]+$ ]] || { echo "DEMO_CLIENTS must be a whole number" >&2; exit 2; }

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export ConnectionStrings__Postgres="Host=127.0.0.1;Port=${AE_PG_PORT:-55432};Username=analytics;Password=analytics;Database=analytics"
export ConnectionStrings__Redis="127.0.0.1:${AE_REDIS_PORT:-56379}"
# Cold storage for archived segments (docs/retention.md): shared by the local silos.
export Archive__Directory="${ARCHIVE_DIR:-$REPO/.run/archive}"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

for ((i = 0; i < SILOS; i++)); do
  for port in $((11111 + i)) $((30000 + i)) $((5090 + i)); do
    port_in_use "$port" && { echo "port $port is already in use (another run?); stop it first" >&2; exit 1; }
  done
done
if ((GATEWAY_PORT >= 5090 && GATEWAY_PORT < 5090 + SILOS)); then
  echo "GATEWAY_PORT $GATEWAY_PORT is a silo's health port (5090..$((5090 + SILOS - 1))); choose another" >&2; exit 1
fi
port_in_use "$GATEWAY_PORT" && { echo "port $GATEWAY_PORT is already in use; set GATEWAY_PORT" >&2; exit 1; }

bash scripts/services.sh start
dotnet build -c Release silo/AnalyticsEngine.Silo.csproj
dotnet build -c Release gateway/AnalyticsEngine.Gateway.csproj

# A local admin token, signed with the development key (docs/security.md); never used in production.
TOKEN="$(ASPNETCORE_ENVIRONMENT=Development dotnet run -c Release --no-build --project gateway -- mint-token --role admin --clients '*' --minutes 480)"
mkdir -p "$LOGS"

# Each process runs in its own session so that stopping it also stops the app `dotnet run` started.
pids=()
names=()
stopping=0
stop_all() {
  ((stopping)) && return
  stopping=1
  trap - INT TERM
  local pid
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq 1 40); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.5
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
trap 'echo; echo "stopping..."; stop_all; exit 130' INT TERM
trap stop_all EXIT

start() { # start NAME LOGFILE COMMAND...
  local name="$1" log="$2"
  shift 2
  setsid "$@" >"$log" 2>&1 </dev/null &
  pids+=("$!")
  names+=("$name")
  echo "started $name (pid $!, log ${log#"$REPO"/})"
}

wait_ready() { # wait_ready NAME URL PID LOG
  local name="$1" url="$2" pid="$3" log="$4" deadline=$((SECONDS + READY_TIMEOUT_S))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited before it was ready; last lines of ${log#"$REPO"/}:" >&2
      tail -n 40 "$log" >&2
      exit 1
    fi
    curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && { echo "$name is ready"; return 0; }
    sleep 1
  done
  echo "$name was not ready at $url within ${READY_TIMEOUT_S}s; last lines of ${log#"$REPO"/}:" >&2
  tail -n 40 "$log" >&2
  exit 1
}

for ((i = 0; i < SILOS; i++)); do
  health_port=$((5090 + i))
  log="$LOGS/silo-$i.log"
  start "silo $i" "$log" env \
    Orleans__SiloPort=$((11111 + i)) Orleans__GatewayPort=$((30000 + i)) \
    dotnet run -c Release --no-build --project silo -- --urls "http://127.0.0.1:$health_port"
done
for ((i = 0; i < SILOS; i++)); do
  wait_ready "silo $i" "http://127.0.0.1:$((5090 + i))/health/ready" "${pids[$i]}" "$LOGS/silo-$i.log"
done

start gateway "$LOGS/gateway.log" \
  env ASPNETCORE_ENVIRONMENT=Development dotnet run -c Release --no-build --project gateway -- --urls "http://127.0.0.1:$GATEWAY_PORT"
wait_ready gateway "http://127.0.0.1:$GATEWAY_PORT/health/ready" "${pids[-1]}" "$LOGS/gateway.log"

if ((DEMO_CLIENTS == 0)); then
  echo "no demo feed (DEMO_CLIENTS=0)"
elif ! curl -fsS -X POST "http://127.0.0.1:$GATEWAY_PORT/demo/feed" -H 'content-type: application/json' -H "Authorization: Bearer $TOKEN" \
  -d "{\"clients\":$DEMO_CLIENTS,\"ordersPerSecond\":$DEMO_RATE}" >/dev/null; then
  echo "warning: starting the demo feed failed; the page works but nothing will move" >&2
fi

echo "Open http://127.0.0.1:$GATEWAY_PORT/#token=$TOKEN"
echo "(API: curl -H \"Authorization: Bearer \$TOKEN\" http://127.0.0.1:$GATEWAY_PORT/clients with TOKEN=$TOKEN; load driver: AE_TOKEN=\$TOKEN)"
echo "(Ctrl-C stops the silos and the gateway; logs in ${LOGS#"$REPO"/})"

# Returns as soon as any process ends: a silo or gateway dying is worth stopping for.
set +e
wait -n "${pids[@]}"
status=$?
set -e
((stopping)) && exit 130
for idx in "${!pids[@]}"; do
  if ! kill -0 "${pids[$idx]}" 2>/dev/null; then
    echo "${names[$idx]} exited (status $status); stopping the rest" >&2
  fi
done
exit 1
