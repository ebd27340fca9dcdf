#!/usr/bin/env bash
# Runs every test project against real PostgreSQL and Redis.
#
# Usage: scripts/test.sh
#   Starts the services (scripts/services.sh; installs them if missing), builds the solution in Release,
#   runs each project under tests/ in turn and ends with one line: "N passed, N failed[, N skipped]".
#   TRX files go to .run/test-results/. Exit status is non-zero if a test failed, a project could not
#   run, or no test ran at all.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Tests get their own database, so what they leave behind never shows up in a product run. It is made
# anew each run, so every run starts from an empty schema as CI's first one does.
TEST_DB=analytics_test
export ConnectionStrings__Postgres="Host=127.0.0.1;Port=${AE_PG_PORT:-55432};Username=analytics;Password=analytics;Database=$TEST_DB"
export ConnectionStrings__Redis="127.0.0.1:${AE_REDIS_PORT:-56379}"

bash scripts/services.sh start

# The dashboard's browser test drives Debian's chromium (tests/Integration.Tests/DashboardBrowserTests.cs);
# Playwright downloads no browser.
if [[ ! -x /usr/bin/chromium ]]; then
  [[ $(id -u) -eq 0 ]] || { echo "chromium is missing: apt-get install chromium (as root)" >&2; exit 1; }
  echo "installing chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi
PGPASSWORD=analytics psql -X -q -h 127.0.0.1 -p "${AE_PG_PORT:-55432}" -U analytics -d analytics -v ON_ERROR_STOP=1 <<SQL
DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE);
CREATE DATABASE $TEST_DB;
SQL

dotnet build -c Release AnalyticsEngine.sln

RESULTS="$REPO/.run/test-results"
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
# The fault scenarios log here as they go (tests/Grains.Tests/Faults/FaultLog.cs), so a stalled one leaves a trace.
export AE_FAULT_LOG="$RESULTS/faults.log"
# The server services.sh started is this run's own, so one fault scenario may restart it.
export AE_RESTART_DATABASE=1

mapfile -t projects < <(find tests -name '*.csproj' | sort)
((${#projects[@]} > 0)) || { echo "no test projects under tests/" >&2; exit 1; }

broken=()
for project in "${projects[@]}"; do
  name="$(basename "$project" .csproj)"
  echo "=== $name"
  # A hung test host is killed (and reported as failed) instead of stalling CI until its own timeout.
  if ! dotnet test "$project" -c Release --no-build \
    --logger "trx;LogFileName=$name.trx" --results-directory "$RESULTS" \
    --blame-hang-timeout 5m --blame-hang-dump-type none; then
    broken+=("$name")
    if [[ -s "$AE_FAULT_LOG" ]]; then
      echo "--- last lines of $AE_FAULT_LOG"
      tail -n 60 "$AE_FAULT_LOG"
    fi
  fi
  [[ -f "$RESULTS/$name.trx" ]] || broken+=("$name (no results)")
done

# Totals from the <Counters .../> element of each TRX file.
counter() { # counter FILE ATTRIBUTE
  grep -o '<Counters [^>]*>' "$1" | grep -o " $2=\"[0-9]*\"" | grep -o '[0-9]\+' || echo 0
}
passed=0 failed=0 skipped=0
for trx in "$RESULTS"/*.trx; do
  [[ -e "$trx" ]] || continue
  passed=$((passed + $(counter "$trx" passed)))
  for attribute in failed error timeout aborted; do
    failed=$((failed + $(counter "$trx" "$attribute")))
  done
  skipped=$((skipped + $(counter "$trx" notExecuted)))
done

status=0
if ((${#broken[@]} > 0)); then
  echo "projects with failures or that did not run: ${broken[*]}" >&2
  status=1
fi
if ((failed > 0 || passed + failed == 0)); then status=1; fi
((passed + failed == 0)) && echo "no test ran" >&2

summary="$passed passed, $failed failed"
((skipped > 0)) && summary+=", $skipped skipped"
echo "$summary"
exit "$status"
