#!/usr/bin/env bash
# Benchmarks Latchkey on this machine, over loopback, and prints a markdown
# report (paste it into BENCHMARKS.md) on standard output; progress goes to
# standard error.
#
#   scripts/bench.sh                                   # full size (~4-8 minutes)
#   BENCH_DURATION=3 BENCH_LARGE=10000 BENCH_REQUESTS=50 scripts/bench.sh   # quick
#
# What it does, all in one run against one server:
#   1. installs wrk (Debian package) if missing, builds the release binary;
#   2. starts `latchkey serve` on a fresh SQLite file in a temporary directory,
#      on a free loopback port, creates application A (BENCH_SMALL seeded
#      tokens plus one created over HTTP for introspection) and application B
#      (BENCH_LARGE seeded tokens) with `latchkey admin seed`;
#   3. wrk at fixed concurrency: GET /health (baseline, before and after),
#      GET /applications/A/tokens?perPage=10 (admin token) and
#      GET /auth/introspect?applicationId=A&action=applicationApiTokens.get
#      (an application token): req/s, p50/p99, and req/s as % of /health;
#   4. sequential list latency, A vs B, for every sort order and three filters
#      (scripts/bench/list_latency.py): p50/p99 and the ratio B/A;
#   5. prints the report, with machine facts and the git commit.
# The server is always stopped (trap on EXIT) and the temporary directory removed.
#
# Environment (all optional):
#   BENCH_DURATION      seconds per wrk run                        (10)
#   BENCH_THREADS       wrk threads                                (2)
#   BENCH_CONNECTIONS   wrk connections                            (32)
#   BENCH_SMALL         tokens seeded into application A           (100)
#   BENCH_LARGE         tokens seeded into application B           (100000)
#   BENCH_REQUESTS      sequential requests per list query and app (200)
#   BENCH_AUTH_CACHE_TTL_MS  the server's --auth-cache-ttl-ms      (500, the server default)
#   BENCH_OUT           also write the report to this file
#   BENCH_BUILD=0       skip `cargo build --release` (use the existing binary)
#   BENCH_STRICT=1      exit 3 when any check failed (errors, wrong counts or order)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=${BENCH_DURATION:-10}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
SMALL=${BENCH_SMALL:-100}
LARGE=${BENCH_LARGE:-100000}
REQUESTS=${BENCH_REQUESTS:-200}
CACHE_TTL_MS=${BENCH_AUTH_CACHE_TTL_MS:-500}
OUT=${BENCH_OUT:-}
BUILD=${BENCH_BUILD:-1}
STRICT=${BENCH_STRICT:-0}

log() { echo "bench: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

for name in DURATION THREADS CONNECTIONS SMALL LARGE REQUESTS; do
    [[ ${!name} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$name must be a positive integer, not '${!name}'"
done
[[ $CACHE_TTL_MS =~ ^[0-9]+$ ]] || die "BENCH_AUTH_CACHE_TTL_MS must be an integer"
((CONNECTIONS >= THREADS)) || die "BENCH_CONNECTIONS must be >= BENCH_THREADS"

# --- tools -------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk"
    { apt-get update && apt-get install -y wrk; } >&2
fi
for tool in wrk python3 curl cargo git; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done

if [[ $BUILD != 0 ]]; then
    log "building (cargo build --release)"
    cargo build --release >&2
fi
[[ -x target/release/latchkey ]] || die "target/release/latchkey is missing; build it"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-bench.XXXXXX")
SERVER_PID=
cleanup() {
    local status=$?
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A private copy: others may rebuild target/release while this runs.
BIN=$WORK/latchkey
cp target/release/latchkey "$BIN"
DB="sqlite://$WORK/bench.db"

# Nothing from the caller's environment changes the server's behaviour.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^LATCHKEY_' || true)
export LATCHKEY_LOG=warn

COMMIT=$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
COMMIT_SUBJECT=$(git log -1 --format=%s 2>/dev/null || echo unknown)
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
WARNINGS=()
warn() {
    log "WARNING: $*"
    WARNINGS+=("$*")
}

# --- server ------------------------------------------------------------------
log "starting the server on a fresh SQLite file"
"$BIN" serve --listen 127.0.0.1:0 --database "$DB" --auth-cache-ttl-ms "$CACHE_TTL_MS" \
    2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 300); do
    grep -q 'listening on http://' "$WORK/server.log" && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited: $(cat "$WORK/server.log")"
    sleep 0.1
done
ADDR=$(sed -n 's|.*listening on http://||p' "$WORK/server.log" | head -n1)
ADMIN=$(sed -n 's|.*admin token: ||p' "$WORK/server.log" | head -n1)
[[ -n $ADDR ]] || die "the server did not start listening within 30 s"
[[ -n $ADMIN ]] || die "the server printed no admin token"
BASE="http://$ADDR"
log "server pid $SERVER_PID at $BASE"

# api TOKEN METHOD PATH [JSON]: prints the body; dies unless the status is 2xx.
api() {
    local token=$1 method=$2 path=$3 body=${4:-} code
    local args=(-sS --max-time 60 -o "$WORK/response" -w '%{http_code}' -X "$method"
        -H "Authorization: Bearer $token" -H 'Accept: application/json')
    [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data "$body")
    code=$(curl "${args[@]}" "$BASE$path") || die "$method $path: curl failed"
    [[ $code == 2?? ]] || die "$method $path: HTTP $code: $(head -c 400 "$WORK/response")"
    cat "$WORK/response"
}
# field NAME: reads a JSON object on stdin, prints one top-level field.
field() { python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)[sys.argv[1]]).strip("\""))' "$1"; }

APP_A=$(api "$ADMIN" POST /applications '{"name": "bench-small"}' | field id)
APP_B=$(api "$ADMIN" POST /applications '{"name": "bench-large"}' | field id)
APP_TOKEN=$(api "$ADMIN" POST "/applications/$APP_A/tokens" '{"name": "bench-introspect"}' | field token)

# seed APP COUNT: prints the seconds it took.
seed() {
    local start end
    start=$(date +%s.%N)
    "$BIN" admin seed --database "$DB" --app "$1" --count "$2" 2>"$WORK/seed.log" ||
        die "admin seed failed: $(tr '\r' '\n' <"$WORK/seed.log" | tail -n3)"
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }'
}
log "seeding $SMALL tokens into A ($APP_A)"
SEED_A_S=$(seed "$APP_A" "$SMALL")
log "seeding $LARGE tokens into B ($APP_B), the server running"
SEED_B_S=$(seed "$APP_B" "$LARGE")
log "seeded in ${SEED_A_S} s and ${SEED_B_S} s"
TOTAL_A=$((SMALL + 1))
TOTAL_B=$LARGE

got=$(api "$ADMIN" GET "/applications/$APP_A/tokens?perPage=1" | field totalCount)
[[ $got == "$TOTAL_A" ]] || warn "A lists totalCount $got, expected $TOTAL_A"
got=$(api "$ADMIN" GET "/applications/$APP_B/tokens?perPage=1" | field totalCount)
[[ $got == "$TOTAL_B" ]] || warn "B lists totalCount $got, expected $TOTAL_B"

URL_HEALTH="$BASE/health"
URL_LIST="$BASE/applications/$APP_A/tokens?perPage=10"
URL_INTROSPECT="$BASE/auth/introspect?applicationId=$APP_A&action=applicationApiTokens.get"
allowed=$(api "$APP_TOKEN" GET "/auth/introspect?applicationId=$APP_A&action=applicationApiTokens.get" | field allowed)
[[ $allowed == true ]] || warn "introspect with A's own token says allowed=$allowed, expected true"

# --- throughput (wrk) --------------------------------------------------------
declare -A RPS P50 P99 ERRS
# load LABEL TOKEN URL
load() {
    local label=$1 token=$2 url=$3 out line code
    log "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s $label"
    out=$(BENCH_TOKEN=$token wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s \
        --latency -s "$ROOT/scripts/bench/wrk_auth.lua" "$url") || die "wrk failed on $label"
    printf '%s\n' "$out" >"$WORK/wrk-$label.txt"
    line=$(grep '^BENCH ' <<<"$out") || die "no summary from wrk on $label: $out"
    local -A v=()
    local kv
    for kv in ${line#BENCH }; do v[${kv%%=*}]=${kv#*=}; done
    RPS[$label]=$(awk -v n="${v[requests]}" -v us="${v[duration_us]}" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
    P50[$label]=$(awk -v us="${v[p50_us]}" 'BEGIN { printf "%.2f", us / 1000 }')
    P99[$label]=$(awk -v us="${v[p99_us]}" 'BEGIN { printf "%.2f", us / 1000 }')
    local errors=$((v[status_errors] + v[connect_errors] + v[read_errors] + v[write_errors] + v[timeouts]))
    ERRS[$label]="$errors / ${v[requests]}"
    if ((errors > 0)); then
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$url" || true)
        warn "$label: $errors of ${v[requests]} requests failed (HTTP >= 400: ${v[status_errors]}, socket: $((errors - v[status_errors]))); a request now answers HTTP $code"
    fi
    log "  ${RPS[$label]} req/s, p50 ${P50[$label]} ms, p99 ${P99[$label]} ms"
    sleep 1
}
load health "" "$URL_HEALTH"
load list "$ADMIN" "$URL_LIST"
load introspect "$APP_TOKEN" "$URL_INTROSPECT"
load health_after "" "$URL_HEALTH"
BASELINE=$(awk -v a="${RPS[health]}" -v b="${RPS[health_after]}" 'BEGIN { printf "%.0f", (a + b) / 2 }')
pct() { awk -v r="$1" -v b="$BASELINE" 'BEGIN { printf "%.1f %%", 100 * r / b }'; }

# --- list latency, A vs B ----------------------------------------------------
log "list latency: $REQUESTS sequential requests per query, A ($TOTAL_A) vs B ($TOTAL_B)"
timeout 3600 python3 "$ROOT/scripts/bench/list_latency.py" --addr "$ADDR" --token "$ADMIN" \
    --app-a "$APP_A" --app-b "$APP_B" --total-a "$TOTAL_A" --total-b "$TOTAL_B" \
    --requests "$REQUESTS" --warnings "$WORK/list.warnings" >"$WORK/list.md" ||
    die "list latency measurement failed"
while read -r line; do
    warn "list $line"
done <"$WORK/list.warnings"

kill -0 "$SERVER_PID" 2>/dev/null || die "the server died during the run: $(tail -n 20 "$WORK/server.log")"
RSS_MB=$(awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVER_PID/status")
DB_MB=$(du -cm "$WORK"/bench.db* | awk 'END { print $1 }')
if grep -qE '\b(WARN|ERROR)\b' "$WORK/server.log"; then
    warn "the server logged warnings or errors: $(grep -E '\b(WARN|ERROR)\b' "$WORK/server.log" | sed 's/\x1b\[[0-9;]*m//g' | head -n3 | tr '\n' ' ')"
fi

# --- report ------------------------------------------------------------------
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
MEM_GB=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
COMMAND="scripts/bench.sh"
for name in DURATION THREADS CONNECTIONS SMALL LARGE REQUESTS; do
    default_var="BENCH_$name"
    [[ -n ${!default_var:-} ]] && COMMAND="$default_var=${!default_var} $COMMAND"
done
[[ -n ${BENCH_AUTH_CACHE_TTL_MS:-} ]] && COMMAND="BENCH_AUTH_CACHE_TTL_MS=$CACHE_TTL_MS $COMMAND"
A_PATH="/applications/A/tokens?perPage=10"
I_PATH="/auth/introspect?applicationId=A&action=applicationApiTokens.get"

{
    echo "### Run of $STARTED"
    echo
    echo "- Command: \`$COMMAND\`"
    echo "- Commit: \`$COMMIT\` ($COMMIT_SUBJECT)"
    echo "- Machine: $(nproc) CPUs, $CPU, $MEM_GB GiB RAM, Linux $(uname -r); load average $LOAD_START at start, $LOAD_END at end"
    echo "- Toolchain: $(rustc --version 2>/dev/null || echo 'rustc ?'); $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)"
    echo "- Server: release build, SQLite file in $(dirname "$WORK"), \`--auth-cache-ttl-ms $CACHE_TTL_MS\`, \`LATCHKEY_LOG=warn\`; peak RSS $RSS_MB MiB; database $DB_MB MiB"
    echo "- Data: A = $SMALL seeded tokens + 1 created over HTTP (seeded in $SEED_A_S s); B = $LARGE seeded tokens (seeded in $SEED_B_S s, server running)"
    echo
    echo "#### Throughput: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, loopback, keep-alive"
    echo
    echo "| request | req/s | % of /health | p50 ms | p99 ms | failed / total |"
    echo "|---|---:|---:|---:|---:|---:|"
    echo "| \`GET /health\` (no auth; baseline, run first) | ${RPS[health]} | $(pct "${RPS[health]}") | ${P50[health]} | ${P99[health]} | ${ERRS[health]} |"
    echo "| \`GET $A_PATH\` (admin user token) | ${RPS[list]} | $(pct "${RPS[list]}") | ${P50[list]} | ${P99[list]} | ${ERRS[list]} |"
    echo "| \`GET $I_PATH\` (application token) | ${RPS[introspect]} | $(pct "${RPS[introspect]}") | ${P50[introspect]} | ${P99[introspect]} | ${ERRS[introspect]} |"
    echo "| \`GET /health\` (run again last) | ${RPS[health_after]} | $(pct "${RPS[health_after]}") | ${P50[health_after]} | ${P99[health_after]} | ${ERRS[health_after]} |"
    echo
    echo "The /health baseline for the % column is the mean of its two runs ($BASELINE req/s)."
    echo
    echo "#### List latency: A ($TOTAL_A tokens) vs B ($TOTAL_B tokens), $REQUESTS sequential requests each, admin token"
    echo
    cat "$WORK/list.md"
    echo
    echo "Each request is timed from sending it to having read the whole body, on one"
    echo "keep-alive connection per application, alternating A and B. The checks column"
    echo "verifies count, totalCount and the sort order (field, ties by id) of the first answer."
    echo
    if ((${#WARNINGS[@]})); then
        echo "#### Problems seen in this run"
        echo
        for w in "${WARNINGS[@]}"; do echo "- $w"; done
    else
        echo "No request failed and every check passed."
    fi
} >"$WORK/report.md"

cat "$WORK/report.md"
if [[ -n $OUT ]]; then
    cp "$WORK/report.md" "$OUT"
    log "report written to $OUT"
fi
if [[ $STRICT == 1 ]] && ((${#WARNINGS[@]})); then
    exit 3
fi
