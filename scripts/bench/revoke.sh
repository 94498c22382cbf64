#!/usr/bin/env bash
# Bulk revocation at scale: on each backend, a new database, one application
# seeded with BENCH_REVOKE_COUNT tokens named ci-0000000… (`latchkey admin
# seed`), then, timed, `latchkey tokens revoke --filter 'ci-*'` (deactivates
# every one) and `… --delete` (deletes every one), each a single request.
#
#   scripts/bench/revoke.sh              # sqlite and postgres, 1,000,000 tokens
#   BENCH_REVOKE_COUNT=100000 BENCH_REVOKE_BACKENDS=sqlite scripts/bench/revoke.sh
#
# Uses target/release/latchkey (built first; CARGO_TARGET_DIR is honoured),
# PostgreSQL from scripts/pg.sh, servers on 127.0.0.1 only; everything it
# started is stopped and removed when it ends.
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT=${BENCH_REVOKE_COUNT:-1000000}
BACKENDS=${BENCH_REVOKE_BACKENDS:-sqlite postgres}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p latchkey
BIN=$TARGET/release/latchkey
WORK=$(mktemp -d /tmp/latchkey-revoke.XXXXXX)
SERVER_PID=
cleanup() {
    set +e
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
    if [[ -n ${LATCHKEY_TEST_POSTGRES_URL:-} ]] && declare -F pg_stop >/dev/null; then pg_stop >/dev/null 2>&1; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# seconds since the epoch, with milliseconds
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

for backend in $BACKENDS; do
    case $backend in
        sqlite) DB="sqlite://$WORK/revoke.db" ;;
        postgres)
            # shellcheck source=../pg.sh
            source scripts/pg.sh
            pg_start >/dev/null
            DB=$LATCHKEY_TEST_POSTGRES_URL ;;
        *) echo "unknown backend $backend" >&2; exit 2 ;;
    esac
    "$BIN" serve --listen 127.0.0.1:0 --database "$DB" 2>"$WORK/server.log" &
    SERVER_PID=$!
    for _ in $(seq 300); do grep -q 'listening on http://' "$WORK/server.log" && break; sleep 0.1; done
    BASE="http://$(sed -n 's|.*listening on http://||p' "$WORK/server.log" | head -n1)"
    ADMIN=$(sed -n 's|.*admin token: ||p' "$WORK/server.log" | head -n1)
    export LATCHKEY_URL=$BASE LATCHKEY_TOKEN=$ADMIN
    APP=$("$BIN" apps create --name revoke --output id)
    start=$(now)
    "$BIN" admin seed --database "$DB" --app "$APP" --count "$COUNT" --prefix ci 2>/dev/null
    seeded=$(elapsed "$start")
    start=$(now)
    deactivated=$("$BIN" tokens revoke --app "$APP" --filter 'ci-*' --output json | tr -d ' \n')
    deactivate_s=$(elapsed "$start")
    start=$(now)
    deleted=$("$BIN" tokens revoke --app "$APP" --filter 'ci-*' --delete --output json | tr -d ' \n')
    delete_s=$(elapsed "$start")
    echo "$backend: $COUNT tokens seeded in ${seeded} s; deactivate ${deactivate_s} s $deactivated; delete ${delete_s} s $deleted"
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
    if [[ $backend == postgres ]]; then pg_stop >/dev/null; unset LATCHKEY_TEST_POSTGRES_URL; fi
done
