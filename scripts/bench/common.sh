# shellcheck shell=bash
# What the bench scripts share; source it (after scripts/pg.sh).
#
#   wrk_rate NAME URL [VAR=VALUE…]
#       one wrk run on core 1, 32 connections, WRK_SECONDS (10) long, with
#       scripts/bench/wrk.lua and its environment VAR=VALUE…; prints
#       "NAME req/s p99_ms", or stops the script when any answer was an error.

wrk_rate() {
    local name=$1 url=$2 line
    shift 2
    line=$(env "$@" taskset -c 1 wrk -t1 -c32 "-d${WRK_SECONDS:-10}s" --latency -s scripts/bench/wrk.lua "$url" 2>&1 |
        grep '^BENCH')
    [[ $line == *" status_errors=0 "* ]] || { echo "$name answered errors: $line" >&2; exit 1; }
    awk -v name="$name" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
        END { printf "%s %.0f %.3f\n", name, v["requests"] / v["duration_us"] * 1e6, v["p99_us"] / 1000 }' <<<"$line"
}

#   fresh_database BACKEND NAME
#       prints the URL of a new, empty database: on PostgreSQL a new database
#       on the server scripts/pg.sh started, else a new SQLite file in $WORK
#       named after NAME.

fresh_database() {
    if [[ $1 == postgres ]]; then
        local db="bench_$RANDOM$RANDOM"
        "$LATCHKEY_TEST_POSTGRES_BINDIR/psql" -X -q -d "$LATCHKEY_TEST_POSTGRES_URL" -c "CREATE DATABASE $db"
        echo "${LATCHKEY_TEST_POSTGRES_URL%/*}/$db"
    else
        echo "sqlite://$WORK/$2-$RANDOM.db"
    fi
}
