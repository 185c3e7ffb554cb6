#!/usr/bin/env bash
# Run the whole suite twice: on SQLite (with the browser tests), then on PostgreSQL.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
PG_URL=${YIWANG_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/test}
unset YIWANG_TEST_DATABASE_URL
# the slowest tests of each pass are printed, so a suite that grows slow shows where
set -- --durations=15 --durations-min=5 "$@"

echo "== pass 1/2: SQLite (embedded default) + browser =="
$BIN/pytest "$@"
sqlite_rc=$?

if $BIN/python - "$PG_URL" <<'PY'
import sys, psycopg
try:
    psycopg.connect(sys.argv[1], connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL not reachable at {sys.argv[1]}: {exc}", file=sys.stderr)
    sys.exit(1)
PY
then
  echo "== pass 2/2: PostgreSQL ($PG_URL) =="
  YIWANG_TEST_DATABASE_URL="$PG_URL" $BIN/pytest -m "not browser" "$@"
  pg_rc=$?
else
  echo "== pass 2/2 SKIPPED: no PostgreSQL reachable at $PG_URL (set YIWANG_TEST_PG_URL) =="
  pg_rc=0
  [ "${CI:-}" = "true" ] && { echo "CI requires the PostgreSQL pass"; pg_rc=1; }
fi
exit $(( sqlite_rc != 0 || pg_rc != 0 ))
