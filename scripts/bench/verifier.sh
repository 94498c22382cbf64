#!/usr/bin/env bash
# The verifier (crates/latchkey-verify, its example service `protected`)
# against Latchkey, release builds, servers on 127.0.0.1 only:
#
#   throughput  wrk on the example's /hello (the layer) against /open (the
#               same handler without it), and against Latchkey's own
#               /auth/introspect (what one call per request costs at least),
#               alternating, BENCH_ROUNDS (3) rounds of BENCH_SECONDS (10) s,
#               32 connections; services on core 0, wrk on core 1; SQLite.
#   latency     how long a deactivation takes to reach the example
#               (scripts/bench/revocation_latency.py, 100 tries): on SQLite
#               through the instance it follows, on PostgreSQL through a
#               second instance.
#   bootstrap   an application with BENCH_BOOTSTRAP_COUNT (1,000,000)
#               revoked tokens: the revoked list's pages (bytes, time), how
#               long the example takes from start to its first answer, and
#               its memory then; SQLite and PostgreSQL.
#
#   scripts/bench/verifier.sh                       # every part
#   BENCH_VERIFIER_PARTS=latency scripts/bench/verifier.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PARTS=${BENCH_VERIFIER_PARTS:-throughput latency bootstrap}
ROUNDS=${BENCH_ROUNDS:-3}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
COUNT=${BENCH_BOOTSTRAP_COUNT:-1000000}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p latchkey
cargo build --release -q -p latchkey-verify --example protected
BIN=$TARGET/release/latchkey
EXAMPLE=$TARGET/release/examples/protected
WORK=$(mktemp -d /tmp/latchkey-verifier.XXXXXX)
PIDS=()

# shellcheck source=../pg.sh
source scripts/pg.sh
# shellcheck source=common.sh
source scripts/bench/common.sh
PG_NO_TRAP=1
cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    pg_stop >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# started LOG PATTERN: waits until LOG has a line with PATTERN; prints what follows it.
started() {
    for _ in $(seq 300); do
        grep -q "$2" "$1" && break
        sleep 0.05
    done
    sed -n "s|.*$2||p" "$1" | head -n1
}

# serve NAME DATABASE_URL: a Latchkey instance on core 0; sets BASE (and
# ADMIN, from the first instance on the database).
serve() {
    taskset -c 0 "$BIN" serve --listen 127.0.0.1:0 --database "$2" 2>"$WORK/$1.log" &
    PIDS+=($!)
    BASE="http://$(started "$WORK/$1.log" 'listening on http://')"
    ADMIN=$("$BIN" admin-token --database "$2" 2>/dev/null)
}

# protect LATCHKEY_URL: the example service on core 0, following APP with
# READER; sets SERVICE.
protect() {
    LATCHKEY_TOKEN=$READER RUST_LOG=warn taskset -c 0 "$EXAMPLE" --latchkey-url "$1" --application "$APP" \
        --listen 127.0.0.1:0 2>"$WORK/protected.log" &
    PIDS+=($!)
    SERVICE=$(started "$WORK/protected.log" 'listening on ')
}

stop_all() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; done
    PIDS=()
}

# token SCOPE: a new token of APP holding SCOPE; prints its secret.
token() {
    curl -sf -X POST "$BASE/applications/$APP/tokens" -H "Authorization: Bearer $ADMIN" \
        -H 'Content-Type: application/json' -d "{\"name\": \"bench\", \"scope\": [\"$1\"]}" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

# application: a new application APP with a READER token and a CALLER.
application() {
    APP=$(LATCHKEY_URL=$BASE LATCHKEY_TOKEN=$ADMIN "$BIN" apps create --name verified --output id)
    READER=$(token applicationApiTokens.get)
    CALLER=$(token device.get)
}

# database BACKEND: a new database's URL.
database() {
    fresh_database "$1" verifier
}

# rate NAME URL: one wrk run with CALLER's token (scripts/bench/common.sh).
rate() {
    WRK_SECONDS=$SECONDS_PER_RUN wrk_rate "$1" "$2" BENCH_TOKEN="$CALLER"
}

throughput() {
    serve latchkey "$(database sqlite)"
    application
    protect "$BASE"
    curl -sf -o /dev/null -H "Authorization: Bearer $CALLER" "$SERVICE/hello"
    echo "| round | /open req/s · p99 | /hello (the layer) req/s · p99 | /hello as % of /open | Latchkey /auth/introspect req/s · p99 |"
    echo "|---:|---:|---:|---:|---:|"
    for round in $(seq "$ROUNDS"); do
        {
            rate open "$SERVICE/open"
            rate hello "$SERVICE/hello"
            rate introspect "$BASE/auth/introspect?applicationId=$APP&action=device.get"
        } | awk -v round="$round" '{ rps[$1] = $2; p99[$1] = $3 }
            END { printf "| %d | %.0f · %.3f ms | %.0f · %.3f ms | %.1f %% | %.0f · %.3f ms |\n", round,
                  rps["open"], p99["open"], rps["hello"], p99["hello"], 100 * rps["hello"] / rps["open"],
                  rps["introspect"], p99["introspect"] }'
    done
    stop_all
}

latency() {
    for backend in sqlite postgres; do
        local db
        db=$(database "$backend")
        serve writer "$db"
        local writer=$BASE
        [[ $backend == postgres ]] && serve followed "$db"
        application
        protect "$BASE"
        echo -n "$backend ($([[ $backend == postgres ]] && echo 'written through another instance' || echo 'one instance')): "
        python3 scripts/bench/revocation_latency.py --latchkey "$writer" --service "$SERVICE" --admin "$ADMIN" \
            --app "$APP" --tries 100
        stop_all
    done
}

bootstrap() {
    for backend in sqlite postgres; do
        local db start pages=0 bytes=0 after="" page
        db=$(database "$backend")
        serve latchkey "$db"
        application
        "$BIN" admin seed --database "$db" --app "$APP" --count "$COUNT" --prefix gone 2>/dev/null
        LATCHKEY_URL=$BASE LATCHKEY_TOKEN=$ADMIN "$BIN" tokens revoke --app "$APP" --filter 'gone-*' >/dev/null
        start=$(now)
        while :; do
            curl -sf -H "Authorization: Bearer $READER" \
                "$BASE/applications/$APP/verifier/revoked?perPage=100000${after:+&after=$after}" >"$WORK/page"
            pages=$((pages + 1))
            bytes=$((bytes + $(wc -c <"$WORK/page")))
            page=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["next"] or "")' "$WORK/page")
            [[ -z $page ]] && break
            after=$page
        done
        local list_s
        list_s=$(elapsed "$start")
        start=$(now)
        protect "$BASE"
        until curl -sf -o /dev/null -H "Authorization: Bearer $CALLER" "$SERVICE/hello"; do sleep 0.05; done
        local ready_s
        ready_s=$(elapsed "$start")
        echo "$backend: $COUNT revoked tokens: the list is $bytes bytes in $pages pages, read in $list_s s (curl);" \
            "the example answers its first request ${ready_s} s after it starts, holding $(($(ps -o rss= -p "${PIDS[-1]}") / 1024)) MB (RSS)"
        stop_all
    done
}

pg_start >/dev/null
for part in $PARTS; do
    case $part in
        throughput | latency | bootstrap) "$part" ;;
        *) echo "verifier.sh: unknown part $part (throughput, latency, bootstrap)" >&2; exit 2 ;;
    esac
done
