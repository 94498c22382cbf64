#!/usr/bin/env bash
# Benchmarks Latchkey on this machine, over loopback, on SQLite and on
# PostgreSQL, with applications of 10,000, 100,000 and 1,000,000 tokens, and
# prints a markdown report (paste it into BENCHMARKS.md) on standard output;
# progress goes to standard error.
#
#   scripts/bench.sh                                                 # full (≈ 30-60 min)
#   BENCH_SIZES=10000 BENCH_DURATION=2 BENCH_REQUESTS=30 scripts/bench.sh   # small (CI)
#
# For every backend, and every size N in it, one fresh database and one
# server (`latchkey serve` on a free port of 127.0.0.1), and in that run:
#   1. application S gets 100 seeded tokens, application L gets N (both timed
#      `latchkey admin seed`), then BENCH_SPREAD tokens created over HTTP (their
#      secrets are the only ones known); the server's memory, idle;
#   2. wrk at fixed concurrency, to saturation: GET /health, GET
#      /auth/introspect for L with one token, and rotating through the
#      BENCH_SPREAD tokens, GET /health again (the % columns divide by the mean
#      of the two /health runs); then paced, at the same concurrency but each
#      connection waiting BENCH_PACED_DELAY_MS after every answer (wrk's delay()
#      hook), GET /health and the rotating introspection: latency at a load the
#      server keeps up with, not queueing at saturation;
#   3. sequential list latency, S vs L, for every sort order in both
#      directions and three filters (scripts/bench/list_latency.py);
#   4. wrk rotating through those list queries on L: the server's peak memory
#      under list load;
#   5. wrk POSTing tokens into L from 16 connections: 201s per second, each a
#      durable commit (SQLite synchronous=FULL; PostgreSQL with fsync and
#      synchronous_commit on);
# checking the answers as it goes (statuses, totalCounts, order). Then
# scripts/bench/report.py prints one table per backend, sizes as rows, and
# the per-query listing detail.
#
# PostgreSQL is a throwaway server (scripts/pg.sh), one database per size,
# stopped and removed at the end however the script ends, like the servers
# and the temporary directory. Every phase is bounded: wrk runs last
# BENCH_DURATION seconds, each list query at most BENCH_LIST_SECONDS, each
# seed at most BENCH_SEED_TIMEOUT (a size whose seed takes longer is reported
# as not measured).
#
# Environment (all optional):
#   BENCH_BACKENDS      "sqlite postgres"                     backends, in order
#   BENCH_SIZES         "10000 100000 1000000"                tokens in L
#   BENCH_DURATION      10      seconds per wrk run
#   BENCH_THREADS       2       wrk threads
#   BENCH_CONNECTIONS   32      wrk connections for /health, introspection, list load
#   BENCH_CREATE_CONNECTIONS 16 wrk connections for the create run
#   BENCH_SPREAD        1000    tokens created over HTTP for the rotating introspection
#   BENCH_PACED_DELAY_MS 1      paced runs: milliseconds each connection waits after an
#                       answer before its next request (whole ms; with 32 connections
#                       1 ms offers about 25,000-30,000 req/s)
#   BENCH_REQUESTS      200     sequential requests per list query and application
#   BENCH_LIST_SECONDS  60      most seconds per list query (both applications)
#   BENCH_SEED_TIMEOUT  600     most seconds per `admin seed`
#   BENCH_AUTH_CACHE_TTL_MS 500 the server's --auth-cache-ttl-ms (its default)
#   BENCH_AUTH_CHANGE_POLL_MS 250 the server's --auth-change-poll-ms (its default; 0: no
#                       change log, every authentication re-read after the ttl)
#   BENCH_AUTH_CACHE_MAX_AGE_MS 60000 the server's --auth-cache-max-age-ms (its default)
#   BENCH_OUT           also write the report to this file
#   BENCH_BUILD=0       skip `cargo build` (use the existing binary)
#   BENCH_PROFILE       release  (debug: use target/debug/latchkey, e.g. the one
#                       scripts/test.sh just built; its numbers mean nothing)
#   BENCH_PG_ANALYZE=0  do not ANALYZE after seeding on PostgreSQL (plans then depend
#                       on whether autovacuum has analyzed the new rows yet)
#   BENCH_PIN           1       server on core 0, load generators and PostgreSQL on core 1 (taskset), so
#                       the numbers are the server's, not the scheduler's; 0: unpinned
#   BENCH_STRICT=1      exit 3 when a check failed (an error status, a wrong
#                       count or order, a server warning); slowness never fails
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS=0
# The command as given, for the report (before this script sets anything).
COMMAND="$(compgen -e | grep '^BENCH_' | sort | while read -r v; do
    if [[ ${!v} =~ ^[A-Za-z0-9_./:-]*$ ]]; then printf '%s=%s ' "$v" "${!v}"; else printf "%s='%s' " "$v" "${!v}"; fi
done)scripts/bench.sh"

BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
SIZES=${BENCH_SIZES:-10000 100000 1000000}
DURATION=${BENCH_DURATION:-10}
# Pinning needs taskset and two cores; pinned, wrk gets one core and one thread.
if [ "${BENCH_PIN:-1}" = 1 ] && command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    SERVER_PIN=(taskset -c 0)
    LOAD_PIN=(taskset -c 1)
    THREADS=${BENCH_THREADS:-1}
else
    SERVER_PIN=()
    LOAD_PIN=()
    THREADS=${BENCH_THREADS:-2}
fi
CONNECTIONS=${BENCH_CONNECTIONS:-32}
CREATE_CONNECTIONS=${BENCH_CREATE_CONNECTIONS:-16}
SPREAD=${BENCH_SPREAD:-1000}
PACED_DELAY_MS=${BENCH_PACED_DELAY_MS:-1}
REQUESTS=${BENCH_REQUESTS:-200}
LIST_SECONDS=${BENCH_LIST_SECONDS:-60}
SEED_TIMEOUT=${BENCH_SEED_TIMEOUT:-600}
CACHE_TTL_MS=${BENCH_AUTH_CACHE_TTL_MS:-500}
CHANGE_POLL_MS=${BENCH_AUTH_CHANGE_POLL_MS:-250}
CACHE_MAX_AGE_MS=${BENCH_AUTH_CACHE_MAX_AGE_MS:-60000}
FIRST_PASS_SECONDS=2
OUT=${BENCH_OUT:-}
BUILD=${BENCH_BUILD:-1}
PROFILE=${BENCH_PROFILE:-release}
STRICT=${BENCH_STRICT:-0}
PG_ANALYZE=${BENCH_PG_ANALYZE:-1}
SMALL=100 # tokens in S, the application every listing is compared with

log() { echo "bench: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

for name in DURATION THREADS CONNECTIONS CREATE_CONNECTIONS SPREAD PACED_DELAY_MS REQUESTS LIST_SECONDS SEED_TIMEOUT; do
    [[ ${!name} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$name must be a positive integer, not '${!name}'"
done
for size in $SIZES; do
    [[ $size =~ ^[1-9][0-9]*$ ]] || die "BENCH_SIZES holds '$size', not a positive integer"
done
for backend in $BACKENDS; do
    [[ $backend == sqlite || $backend == postgres ]] || die "BENCH_BACKENDS: '$backend' is neither sqlite nor postgres"
done
[[ -n $SIZES && -n $BACKENDS ]] || die "BENCH_SIZES and BENCH_BACKENDS must not be empty"
[[ $CACHE_TTL_MS =~ ^[0-9]+$ ]] || die "BENCH_AUTH_CACHE_TTL_MS must be an integer"
[[ $CHANGE_POLL_MS =~ ^[0-9]+$ ]] || die "BENCH_AUTH_CHANGE_POLL_MS must be an integer"
[[ $CACHE_MAX_AGE_MS =~ ^[0-9]+$ ]] || die "BENCH_AUTH_CACHE_MAX_AGE_MS must be an integer"
[[ $PROFILE == release || $PROFILE == debug ]] || die "BENCH_PROFILE must be release or debug"
((CONNECTIONS >= THREADS && CREATE_CONNECTIONS >= THREADS)) || die "connections must be >= BENCH_THREADS"

# --- tools -------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk"
    { apt-get update && apt-get install -y wrk; } >&2
fi
for tool in wrk python3 curl cargo git timeout; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
if [[ $BUILD != 0 ]]; then
    cargo_profile=$([[ $PROFILE == debug ]] && echo dev || echo release)
    log "building (cargo build --profile $cargo_profile -p latchkey)"
    cargo build --profile "$cargo_profile" -p latchkey >&2
fi
[[ -x target/$PROFILE/latchkey ]] || die "target/$PROFILE/latchkey is missing; build it"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-bench.XXXXXX")
RESULTS=$WORK/results
mkdir "$RESULTS"
PROBLEMS=$WORK/problems
: >"$PROBLEMS"
SERVER_PID=
PG_STARTED=0
cleanup() {
    local status=$?
    # Best effort, every step: under errexit, pg_stop's own grep of an error-free
    # log (with a non-zero status) would end the script before PostgreSQL stops.
    set +e
    server_stop
    if ((PG_STARTED)); then pg_stop "$status"; fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# A private copy: others may rebuild target/ while this runs.
BIN=$WORK/latchkey
cp "target/$PROFILE/latchkey" "$BIN"

# Nothing from the caller's environment changes the server's behaviour.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^LATCHKEY_' || true)
export LATCHKEY_LOG=warn

# --- results -----------------------------------------------------------------
# A case is one (backend, size): its results are KEY=VALUE lines in $CASE_FILE.
CASE= CASE_FILE=
record() { printf '%s=%s\n' "$1" "$2" >>"$CASE_FILE"; }
recorded() { sed -n "s/^$1=//p" "$CASE_FILE" | tail -n1; }
# problem TEXT: a failed check (counts for BENCH_STRICT), in the report.
problem() {
    log "PROBLEM ($CASE): $*"
    printf '%s: %s\n' "$CASE" "$*" >>"$PROBLEMS"
}
# note TEXT: something to tell that is no failed check.
note() {
    log "note ($CASE): $*"
    record note "$*"
}
elapsed_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

# --- the server --------------------------------------------------------------
# server_start URL: starts `latchkey serve` on a new database; sets SERVER_PID,
# ADDR, BASE and ADMIN (the admin token it prints on a new database).
server_start() {
    local db=$1 logfile=$WORK/server.log
    "${SERVER_PIN[@]}" "$BIN" serve --listen 127.0.0.1:0 --database "$db" --auth-cache-ttl-ms "$CACHE_TTL_MS" \
        --auth-change-poll-ms "$CHANGE_POLL_MS" --auth-cache-max-age-ms "$CACHE_MAX_AGE_MS" 2>"$logfile" &
    SERVER_PID=$!
    for _ in $(seq 300); do
        grep -q 'listening on http://' "$logfile" && break
        kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited: $(cat "$logfile")"
        sleep 0.1
    done
    ADDR=$(sed -n 's|.*listening on http://||p' "$logfile" | head -n1)
    ADMIN=$(sed -n 's|.*admin token: ||p' "$logfile" | head -n1)
    [[ -n $ADDR ]] || die "the server did not start listening within 30 s"
    [[ -n $ADMIN ]] || die "the server printed no admin token"
    BASE="http://$ADDR"
    log "$CASE: server pid $SERVER_PID at $BASE"
}

# server_stop: SIGTERM (the server drains and exits), then SIGKILL after 5 s.
server_stop() {
    [[ -n $SERVER_PID ]] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# The server's memory from /proc: rss_mb VmRSS|VmHWM. peak_reset starts a new
# VmHWM (Linux: "5" to clear_refs), so each phase reports its own peak.
rss_mb() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }
peak_reset() { echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null || PEAK_RESET_OK=0; }
PEAK_RESET_OK=1

# api TOKEN METHOD PATH [JSON]: prints the body; dies unless the status is 2xx.
api() {
    local token=$1 method=$2 path=$3 body=${4:-} code
    local args=(-sS --max-time 120 -o "$WORK/response" -w '%{http_code}' -X "$method"
        -H "Authorization: Bearer $token" -H 'Accept: application/json')
    [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data "$body")
    code=$(curl "${args[@]}" "$BASE$path") || die "$method $path: curl failed"
    [[ $code == 2?? ]] || die "$method $path: HTTP $code: $(head -c 400 "$WORK/response")"
    cat "$WORK/response"
}
# field NAME: reads a JSON object on stdin, prints one top-level field.
field() { python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)[sys.argv[1]]).strip("\""))' "$1"; }
total_count() { api "$ADMIN" GET "/applications/$1/tokens?perPage=1" | field totalCount; }
# expect WHAT GOT WANT: a problem unless equal.
expect() { [[ $2 == "$3" ]] || problem "$1 is $2, expected $3"; }
# metric NAME: the value of an unlabelled counter in /metrics.
metric() { curl -sS --max-time 10 "$BASE/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# seed APP COUNT KEY: `admin seed`, bounded; records KEY (seconds). Fails
# (returns 1) when it took longer than BENCH_SEED_TIMEOUT.
seed() {
    local start status=0
    start=$(date +%s.%N)
    timeout "$SEED_TIMEOUT" "$BIN" admin seed --database "$DB" --app "$1" --count "$2" 2>"$WORK/seed.log" ||
        status=$?
    ((status != 124)) || {
        note "seeding $2 tokens took more than $SEED_TIMEOUT s (stopped at $(tr '\r' '\n' <"$WORK/seed.log" | grep seeding | tail -n1)); not measured"
        return 1
    }
    ((status == 0)) || die "admin seed failed: $(tr '\r' '\n' <"$WORK/seed.log" | tail -n3)"
    record "$3" "$(elapsed_since "$start")"
}

# --- wrk ---------------------------------------------------------------------
# load LABEL CONNECTIONS URL [VAR=VALUE…]: one wrk run of scripts/bench/wrk.lua
# (VARs are its settings; BENCH_DELAY_MS=N paces it). Records LABEL_rps,
# _p50_ms, _p99_ms, _p999_ms, _requests, _failed, _statuses, _peak_rss_mb and
# _cache_misses (database reads for authentication during the run); any failed
# request is a problem.
load() {
    local label=$1 connections=$2 url=$3 out line misses setting paced=
    shift 3
    for setting in "$@"; do
        if [[ $setting == BENCH_DELAY_MS=* ]]; then paced=" (paced: ${setting#*=} ms between requests)"; fi
    done
    local duration=${LOAD_SECONDS:-$DURATION}
    log "$CASE: wrk -t$THREADS -c$connections -d${duration}s $label$paced"
    peak_reset
    misses=$(metric latchkey_auth_cache_misses_total)
    out=$(env BENCH_TOKEN= BENCH_TOKENS_FILE= BENCH_PATHS_FILE= BENCH_METHOD= BENCH_BODY= BENCH_COUNT_STATUS= BENCH_DELAY_MS= "$@" \
        timeout $((duration + 60)) "${LOAD_PIN[@]}" wrk -t"$THREADS" -c"$connections" -d"${duration}s" --timeout 10s \
        --latency -s "$ROOT/scripts/bench/wrk.lua" "$url") || die "wrk failed on $label"
    line=$(grep '^BENCH ' <<<"$out") || die "no summary from wrk on $label: $out"
    local -A v=()
    local kv
    for kv in ${line#BENCH }; do v[${kv%%=*}]=${kv#*=}; done
    local failed=$((v[status_errors] + v[connect_errors] + v[read_errors] + v[write_errors] + v[timeouts]))
    record "${label}_rps" "$(awk -v n="${v[requests]}" -v us="${v[duration_us]}" 'BEGIN { printf "%.0f", n / (us / 1e6) }')"
    record "${label}_p50_ms" "$(awk -v us="${v[p50_us]}" 'BEGIN { printf "%.2f", us / 1000 }')"
    record "${label}_p99_ms" "$(awk -v us="${v[p99_us]}" 'BEGIN { printf "%.2f", us / 1000 }')"
    record "${label}_p999_ms" "$(awk -v us="${v[p999_us]}" 'BEGIN { printf "%.2f", us / 1000 }')"
    record "${label}_requests" "${v[requests]}"
    record "${label}_seconds" "$(awk -v us="${v[duration_us]}" 'BEGIN { printf "%.3f", us / 1e6 }')"
    record "${label}_failed" "$failed"
    record "${label}_statuses" "${v[statuses]}"
    record "${label}_peak_rss_mb" "$(rss_mb VmHWM)"
    record "${label}_cache_misses" "$(($(metric latchkey_auth_cache_misses_total) - misses))"
    ((failed == 0)) || problem "$label: $failed of ${v[requests]} requests failed (HTTP >= 400: ${v[status_errors]}, socket errors or timeouts: $((failed - v[status_errors])); statuses ${v[statuses]})"
    log "$CASE:   $(grep -E "^${label}_(rps|p99_ms|peak_rss_mb)=" "$CASE_FILE" | tr '\n' ' ')"
    sleep 1
}

# --- one case: a backend and a size ------------------------------------------
INTROSPECT_ACTION=applicationApiTokens.get

run_case() {
    local backend=$1 size=$2 start
    CASE="$backend $size"
    CASE_FILE="$RESULTS/$backend-$size.kv"
    : >"$CASE_FILE"
    record backend "$backend"
    record size "$size"
    start=$(date +%s.%N)
    DB=$(database_create "$backend" "$size")
    server_start "$DB"

    local app_s app_l
    app_s=$(api "$ADMIN" POST /applications '{"name": "bench-small"}' | field id)
    app_l=$(api "$ADMIN" POST /applications '{"name": "bench-large"}' | field id)
    log "$CASE: seeding $SMALL tokens into S and $size into L (the server running)"
    if seed "$app_s" "$SMALL" seed_s_seconds && seed "$app_l" "$size" seed_seconds; then
        database_analyze "$backend"
        record seed_rate "$(awk -v n="$size" -v s="$(recorded seed_seconds)" 'BEGIN { printf "%.0f", n / s }')"
        sleep 1
        record idle_rss_mb "$(rss_mb VmRSS)"
        record idle_peak_rss_mb "$(rss_mb VmHWM)"
        measure "$app_s" "$app_l" "$size"
    fi

    kill -0 "$SERVER_PID" 2>/dev/null || problem "the server died during the run: $(tail -n 5 "$WORK/server.log")"
    if grep -qE '\b(WARN|ERROR)\b' "$WORK/server.log"; then
        problem "the server logged warnings or errors ($(grep -cE '\b(WARN|ERROR)\b' "$WORK/server.log") lines), e.g. $(grep -m2 -E '\b(WARN|ERROR)\b' "$WORK/server.log" | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-300 | tr '\n' ' ')"
    fi
    server_stop
    record db_mb "$(database_size_mb "$backend" "$size")"
    database_drop "$backend" "$size"
    record case_seconds "$(elapsed_since "$start")"
    log "$CASE: done in $(recorded case_seconds) s"
}

# measure APP_S APP_L SIZE: every measurement of one case, on a seeded server.
measure() {
    local app_s=$1 app_l=$2 size=$3 before after n201 start
    log "$CASE: creating $SPREAD tokens in L over HTTP"
    start=$(date +%s.%N)
    timeout 600 python3 "$ROOT/scripts/bench/make_tokens.py" --addr "$ADDR" --token "$ADMIN" --app "$app_l" \
        --count "$SPREAD" --scope "$INTROSPECT_ACTION" --out "$WORK/secrets" || die "creating $SPREAD tokens failed"
    record spread_create_seconds "$(elapsed_since "$start")"
    expect "S's totalCount" "$(total_count "$app_s")" "$SMALL"
    expect "L's totalCount" "$(total_count "$app_l")" "$((size + SPREAD))"
    head -n1 "$WORK/secrets" >"$WORK/hot"
    local path="/auth/introspect?applicationId=$app_l&action=$INTROSPECT_ACTION"
    expect "introspect's allowed (hot token)" "$(api "$(cat "$WORK/hot")" GET "$path" | field allowed)" true
    expect "introspect's allowed (last token)" "$(api "$(tail -n1 "$WORK/secrets")" GET "$path" | field allowed)" true

    load health "$CONNECTIONS" "$BASE/health"
    load introspect_hot "$CONNECTIONS" "$BASE$path" BENCH_TOKENS_FILE="$WORK/hot"
    # First sight of each token (a signature check and a database read), in a
    # short run of its own, so the timed run measures the steady state.
    LOAD_SECONDS=$FIRST_PASS_SECONDS load introspect_first "$CONNECTIONS" "$BASE$path" BENCH_TOKENS_FILE="$WORK/secrets"
    load introspect_spread "$CONNECTIONS" "$BASE$path" BENCH_TOKENS_FILE="$WORK/secrets"
    load health_after "$CONNECTIONS" "$BASE/health"
    # Paced: the same concurrency, each connection waiting PACED_DELAY_MS after
    # every answer, so the server is not saturated and p99 is its service time
    # rather than the queue of 32 connections on one core. /health first, the
    # baseline at the same pacing.
    load health_paced "$CONNECTIONS" "$BASE/health" BENCH_DELAY_MS="$PACED_DELAY_MS"
    load introspect_paced "$CONNECTIONS" "$BASE$path" BENCH_TOKENS_FILE="$WORK/secrets" BENCH_DELAY_MS="$PACED_DELAY_MS"

    local list=("${LOAD_PIN[@]}" python3 "$ROOT/scripts/bench/list_latency.py" --addr "$ADDR" --token "$ADMIN" --app-s "$app_s"
        --app-l "$app_l" --seeded-s "$SMALL" --seeded-l "$size" --extra-l "$SPREAD")
    log "$CASE: list latency, $REQUESTS sequential requests per query, S ($SMALL) vs L ($((size + SPREAD)))"
    timeout $((16 * (LIST_SECONDS + 120))) "${list[@]}" --requests "$REQUESTS" --seconds "$LIST_SECONDS" \
        >"${CASE_FILE%.kv}.list.json" 2>"$WORK/list.log" || die "list latency failed: $(tail -n3 "$WORK/list.log")"
    grep -v '^WARNING: ' "$WORK/list.log" >&2 || true
    while read -r line; do problem "${line#WARNING: }"; done < <(grep '^WARNING: ' "$WORK/list.log" || true)

    "${list[@]}" --paths-out "$WORK/list-paths"
    load list "$CONNECTIONS" "$BASE/applications/$app_l/tokens" BENCH_TOKEN="$ADMIN" BENCH_PATHS_FILE="$WORK/list-paths"

    before=$(total_count "$app_l")
    load create "$CREATE_CONNECTIONS" "$BASE/applications/$app_l/tokens" BENCH_TOKEN="$ADMIN" BENCH_METHOD=POST \
        BENCH_BODY='{"name": "bench-create", "scope": ["applicationApiTokens.get"]}' BENCH_COUNT_STATUS=1
    n201=$(recorded create_statuses | tr ',' '\n' | sed -n 's/^201://p')
    n201=${n201:-0}
    record create_201_per_s "$(awk -v n="$n201" -v s="$(recorded create_seconds)" 'BEGIN { printf "%.0f", n / s }')"
    expect "create: 201 answers" "$n201" "$(recorded create_requests)"
    sleep 0.5
    after=$(total_count "$app_l")
    # Requests in flight when wrk stopped are created too, unanswered to wrk.
    ((after - before >= n201 && after - before <= n201 + CREATE_CONNECTIONS)) ||
        problem "create: L grew by $((after - before)) tokens for $n201 answers 201"
}

# --- backends ----------------------------------------------------------------
# database_create BACKEND SIZE: prints the URL of a new, empty database.
database_create() {
    case $1 in
    sqlite) echo "sqlite://$WORK/bench-$2.db" ;;
    postgres)
        pg_psql -c "CREATE DATABASE bench_$2" >&2
        echo "${LATCHKEY_TEST_POSTGRES_URL%/*}/bench_$2"
        ;;
    esac
}
database_size_mb() {
    case $1 in
    sqlite) du -cm "$WORK/bench-$2.db"* | awk 'END { print $1 }' ;;
    postgres) pg_psql -tA -c "SELECT pg_database_size('bench_$2') / 1048576" ;;
    esac
}
# database_analyze BACKEND: PostgreSQL plans from statistics, and a table just
# bulk-loaded has none until autovacuum gets to it (within about a minute): the
# benchmark gathers them at once, so that no result depends on that timing.
database_analyze() {
    [[ $1 == postgres && $PG_ANALYZE == 1 ]] || return 0
    local start
    start=$(date +%s.%N)
    PSQL_URL=$DB pg_psql -c "ANALYZE" >&2
    record analyze_seconds "$(elapsed_since "$start")"
}
database_drop() {
    case $1 in
    sqlite) rm -f "$WORK/bench-$2.db"* ;;
    postgres) pg_psql -c "DROP DATABASE bench_$2" >&2 ;;
    esac
}
pg_psql() {
    PGCONNECT_TIMEOUT=10 timeout 120 "$LATCHKEY_TEST_POSTGRES_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
        "${PSQL_URL:-$LATCHKEY_TEST_POSTGRES_URL}" "$@"
}

# backend_start BACKEND: for postgres, a throwaway server with durable commits
# (scripts/pg.sh turns fsync off for tests; the benchmark turns it back on).
backend_start() {
    [[ $1 == postgres ]] || return 0
    # shellcheck source=scripts/pg.sh
    source "$ROOT/scripts/pg.sh"
    PG_STARTED=1
    PG_NO_TRAP=1 pg_start || die "PostgreSQL did not start"
    pg_psql -c "ALTER SYSTEM SET fsync = on" -c "ALTER SYSTEM SET full_page_writes = on" \
        -c "ALTER SYSTEM SET synchronous_commit = on" -c "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 50); do
        [[ $(pg_psql -tA -c "SHOW fsync") == on ]] && break
        sleep 0.1
    done
    [[ $(pg_psql -tA -c "SHOW fsync") == on ]] || die "PostgreSQL kept fsync off"
    PG_FACTS="$(pg_psql -tA -c "SELECT version()" | cut -d' ' -f1-2); fsync, full_page_writes and synchronous_commit on; shared_buffers $(pg_psql -tA -c "SHOW shared_buffers")"
    if [ ${#LOAD_PIN[@]} -gt 0 ]; then
        # PostgreSQL shares the load generators' core, so the server's core is
        # its own: the postmaster and its processes now, and the backends and
        # autovacuum workers it forks later inherit the affinity.
        local postmaster
        postmaster=$(head -n1 "$PG_DIR/data/postmaster.pid")
        for pid in "$postmaster" $(pgrep -P "$postmaster"); do
            taskset -a -p -c 1 "$pid" >/dev/null || die "could not pin PostgreSQL process $pid to core 1"
        done
        PG_FACTS+="; pinned to CPU 1 with the load generators"
    fi
}
backend_stop() {
    [[ $1 == postgres ]] || return 0
    pg_stop
    PG_STARTED=0
}

# --- the run -----------------------------------------------------------------
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
PG_FACTS=
for backend in $BACKENDS; do
    backend_start "$backend"
    for size in $SIZES; do
        run_case "$backend" "$size"
    done
    backend_stop "$backend"
done

{
    echo "started=$STARTED"
    echo "command=$COMMAND"
    echo "commit=$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)"
    echo "commit_subject=$(git log -1 --format=%s 2>/dev/null || echo unknown)"
    echo "cpus=$(nproc)"
    echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
    echo "mem_gib=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)"
    echo "kernel=$(uname -r)"
    echo "load_start=$LOAD_START"
    echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "rustc=$(rustc --version 2>/dev/null || echo '?')"
    echo "wrk=$(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)"
    echo "postgres=$PG_FACTS"
    echo "profile=$PROFILE"
    echo "pg_analyze=$PG_ANALYZE"
    echo "tmp=$(dirname "$WORK")"
    echo "duration=$DURATION"
    echo "threads=$THREADS"
    echo "connections=$CONNECTIONS"
    echo "create_connections=$CREATE_CONNECTIONS"
    echo "spread=$SPREAD"
    echo "paced_delay_ms=$PACED_DELAY_MS"
    echo "requests=$REQUESTS"
    echo "small=$SMALL"
    echo "cache_ttl_ms=$CACHE_TTL_MS"
    echo "change_poll_ms=$CHANGE_POLL_MS"
    echo "cache_max_age_ms=$CACHE_MAX_AGE_MS"
    echo "first_pass_seconds=$FIRST_PASS_SECONDS"
    echo "pinned=$([ ${#SERVER_PIN[@]} -gt 0 ] && echo 1 || echo 0)"
    echo "peak_reset=$PEAK_RESET_OK"
    echo "seconds=$SECONDS"
} >"$RESULTS/meta.kv"
python3 "$ROOT/scripts/bench/report.py" "$RESULTS" "$PROBLEMS" >"$WORK/report.md" || die "the report failed"
cat "$WORK/report.md"
if [[ -n $OUT ]]; then
    cp "$WORK/report.md" "$OUT"
    log "report written to $OUT"
fi
log "finished in $SECONDS s; $(wc -l <"$PROBLEMS") problems"
if [[ $STRICT == 1 && -s $PROBLEMS ]]; then
    exit 3
fi
