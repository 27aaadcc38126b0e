#!/usr/bin/env bash
# The suite's two passes, SQLite and PostgreSQL, side by side, each spreading its test
# files over two processes (TEST_WORKERS): a test spends part of its time waiting (a
# server starting, a broker answering, a database copying its template), and one
# pass alone leaves a core idle while the other finishes.
# Each pass writes its own log under tests/output/ and has its own temporary
# directory; when both have ended, each log's summary is shown, and the whole log of
# a pass that failed.
set -u
cd "$(dirname "$0")/.."
out=tests/output
mkdir -p "$out"
make=${MAKE:-make}

run_pass() {
    local name=$1
    local basetemp="${TMPDIR:-/tmp}/tulou-tests-$name"
    $make --no-print-directory "test-$name" PYTEST_ARGS="--basetemp=$basetemp" > "$out/test-$name.log" 2>&1
}

started=$(date +%s)
run_pass sqlite & sqlite=$!
run_pass postgres & postgres=$!
wait $sqlite; sqlite_status=$?
wait $postgres; postgres_status=$?

status=0
for name in sqlite postgres; do
    eval "code=\$${name}_status"
    if [ "$code" -eq 0 ]; then
        echo "== $name pass: passed (log: $out/test-$name.log)"
        tail -n 8 "$out/test-$name.log"
    else
        echo "== $name pass: FAILED with exit code $code; its whole log follows"
        cat "$out/test-$name.log"
        status=1
    fi
done
echo "== both passes took $(( $(date +%s) - started )) s"
exit $status
