#!/usr/bin/env bash
# Compares two builds of latchkey on this machine, alternating them so both
# meet the same noise: the verify path (introspection with one token and
# rotating over 1,000, each as a % of /health measured beside it) on SQLite,
# and PATCH and create throughput on SQLite and PostgreSQL.
#
#   scripts/bench/compare.sh OLD_BINARY NEW_BINARY
#
# A baseline binary comes from a worktree of the commit to compare with:
#   git worktree add ../baseline REV && (cd ../baseline && cargo build --release -p latchkey)
#   scripts/bench/compare.sh ../baseline/target/release/latchkey target/release/latchkey
#
# Environment: COMPARE_ROUNDS (3) pairs of runs; COMPARE_SECONDS (10) per wrk
# run; COMPARE_PATCH_BODY ('{"description": "touched"}') the PATCH body;
# COMPARE_PARTS ("verify patches creates") which tables to measure;
# COMPARE_BACKENDS ("sqlite postgres") where to measure PATCHes and creates;
# LATCHKEY_PG_DURABLE=1 keeps PostgreSQL's fsync on (scripts/pg.sh), as a
# production server has it: commits then cost what they cost there.
# The server is pinned to core 0, wrk to core 1 (taskset). PostgreSQL is a
# throwaway server (scripts/pg.sh; fsync off), one database per run.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OLD=$(realpath "$1")
NEW=$(realpath "$2")
ROUNDS=${COMPARE_ROUNDS:-3}
SECONDS_PER_RUN=${COMPARE_SECONDS:-10}
PATCH_BODY=${COMPARE_PATCH_BODY:-'{"description": "touched"}'}
PARTS=${COMPARE_PARTS:-verify patches creates}
BACKENDS=${COMPARE_BACKENDS:-sqlite postgres}
WORK=$(mktemp -d)
SERVER=

# shellcheck source=scripts/pg.sh
source scripts/pg.sh
# shellcheck source=scripts/bench/common.sh
source scripts/bench/common.sh
PG_NO_TRAP=1 # pg_stop runs from this script's own trap
cleanup() {
    [[ -n $SERVER ]] && kill "$SERVER" 2>/dev/null
    pg_stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
pg_start >/dev/null 2>&1

# serve BINARY DATABASE_URL: starts a server; sets SERVER, BASE and ADMIN.
serve() {
    local port=$((20000 + RANDOM % 20000))
    LATCHKEY_LOG=warn taskset -c 0 "$1" serve --listen "127.0.0.1:$port" --database "$2" 2>"$WORK/server.log" &
    SERVER=$!
    BASE="http://127.0.0.1:$port"
    for _ in $(seq 100); do grep -q "listening" "$WORK/server.log" && break; sleep 0.1; done
    ADMIN=$("$1" admin-token --database "$2")
}

stop() {
    kill "$SERVER"
    wait "$SERVER" 2>/dev/null || true
    SERVER=
}

# tokens SCOPE: an application with 1,000 tokens; sets APP, writes their
# secrets to $WORK/secrets and their paths to $WORK/paths.
tokens() {
    APP=$(curl -sf -X POST "$BASE/applications" -H "Authorization: Bearer $ADMIN" \
        -H 'Content-Type: application/json' -d '{"name": "compare"}' |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
    python3 scripts/bench/make_tokens.py --addr "${BASE#http://}" --token "$ADMIN" --app "$APP" \
        --count 1000 --scope "$1" --out "$WORK/secrets" --ids-out "$WORK/ids" >/dev/null
    sed "s|^|/applications/$APP/tokens/|" "$WORK/ids" >"$WORK/paths"
}

# rate NAME URL [VAR=VALUE…]: one wrk run (RUN_SECONDS long, else the
# default; scripts/bench/common.sh).
rate() {
    WRK_SECONDS=${RUN_SECONDS:-$SECONDS_PER_RUN} wrk_rate "$@"
}

# verify LABEL BINARY: the verify path on SQLite, one row.
verify() {
    serve "$2" "sqlite://$WORK/verify-$1-$RANDOM.db"
    tokens applicationApiTokens.get
    head -n1 "$WORK/secrets" >"$WORK/hot"
    local path="$BASE/auth/introspect?applicationId=$APP&action=applicationApiTokens.get"
    # A first pass, so the timed runs find every token cached.
    RUN_SECONDS=2 rate first "$path" BENCH_TOKENS_FILE="$WORK/secrets" >/dev/null
    {
        rate health "$BASE/health"
        rate hot "$path" BENCH_TOKENS_FILE="$WORK/hot"
        rate spread "$path" BENCH_TOKENS_FILE="$WORK/secrets"
        rate health "$BASE/health"
    } | awk -v label="$1" '
        $1 == "health" { health += $2 / 2; next }
        { rps[$1] = $2; p99[$1] = $3 }
        END { printf "| %s | %.0f | %.0f (%.1f %%) · %.2f ms | %.0f (%.1f %%) · %.2f ms |\n", label, health,
              rps["hot"], 100 * rps["hot"] / health, p99["hot"], rps["spread"], 100 * rps["spread"] / health, p99["spread"] }'
    stop
}

# database LABEL BACKEND: prints a fresh database's URL on that backend.
database() {
    fresh_database "$2" "$1"
}

# row LABEL BACKEND: a "NAME req/s p99" line as a table row.
row() {
    awk -v label="$1" -v backend="$2" '{ printf "| %s | %s | %.0f | %.2f ms |\n", label, backend, $2, $3 }'
}

# patches LABEL BINARY BACKEND: PATCH throughput over 1,000 tokens, one row.
patches() {
    serve "$2" "$(database "patch-$1" "$3")"
    tokens all.Application
    rate patch "$BASE" BENCH_PATHS_FILE="$WORK/paths" BENCH_METHOD=PATCH BENCH_BODY="$PATCH_BODY" \
        BENCH_TOKEN="$ADMIN" BENCH_COUNT_STATUS=1 | row "$1" "$3"
    stop
}

# creates LABEL BINARY BACKEND: token creates into one application, one row.
creates() {
    serve "$2" "$(database "create-$1" "$3")"
    tokens all.Application
    rate create "$BASE/applications/$APP/tokens" BENCH_METHOD=POST BENCH_BODY='{"name": "compared"}' \
        BENCH_TOKEN="$ADMIN" BENCH_COUNT_STATUS=1 | row "$1" "$3"
    stop
}

# verify_table: the verify path, old and new alternating, ROUNDS times.
verify_table() {
    echo "Verify path on SQLite (old: $OLD, new: $NEW), $ROUNDS rounds, ${SECONDS_PER_RUN} s per run"
    echo
    echo "| build | /health req/s | introspect, 1 token: req/s (% of /health) · p99 | rotating over 1,000 tokens |"
    echo "|---|---:|---:|---:|"
    for _ in $(seq "$ROUNDS"); do
        verify old "$OLD"
        verify new "$NEW"
    done
}

# write_table TITLE RATE_HEADING MEASURE: a table of MEASURE (patches or
# creates), old and new alternating on each backend, ROUNDS times.
write_table() {
    echo
    echo "$1"
    echo
    echo "| build | backend | $2 | p99 |"
    echo "|---|---|---:|---:|"
    for _ in $(seq "$ROUNDS"); do
        for backend in $BACKENDS; do
            "$3" old "$OLD" "$backend"
            "$3" new "$NEW" "$backend"
        done
    done
}

for part in $PARTS; do
    case $part in
    verify) verify_table ;;
    patches) write_table "PATCH $PATCH_BODY over 1,000 tokens, 32 connections" "PATCH 200s/s" patches ;;
    creates) write_table "POST a token into one application, 32 connections" "creates/s" creates ;;
    *) echo "compare: unknown part $part (verify, patches, creates)" >&2; exit 2 ;;
    esac
done
