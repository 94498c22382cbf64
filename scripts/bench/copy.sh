#!/usr/bin/env bash
# `latchkey admin copy` and backups at scale: a new SQLite database with one
# application seeded with BENCH_COPY_COUNT tokens (`latchkey admin seed`),
# then, timed, its backup and restore (`latchkey admin backup`/`restore`),
# its copy into a new PostgreSQL database, that database's backup and
# restore (`pg_dump`/`pg_restore`, the README's recipe), and the copy's copy
# back into a new SQLite file (each copy's time and peak memory); the token
# counts of all three databases are checked equal.
#
#   scripts/bench/copy.sh                        # 1,000,000 tokens
#   BENCH_COPY_COUNT=100000 scripts/bench/copy.sh
#
# Uses target/release/latchkey (built first; CARGO_TARGET_DIR is honoured),
# PostgreSQL from scripts/pg.sh, a server on 127.0.0.1 only; everything it
# started is stopped and removed when it ends.
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT=${BENCH_COPY_COUNT:-1000000}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p latchkey
BIN=$TARGET/release/latchkey
WORK=$(mktemp -d /tmp/latchkey-copy.XXXXXX)
SERVER_PID=
cleanup() {
    set +e
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
    if declare -F pg_stop >/dev/null; then pg_stop >/dev/null 2>&1; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# seconds since the epoch, with milliseconds
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

SOURCE="sqlite://$WORK/source.db"
BACK="sqlite://$WORK/back.db"
"$BIN" serve --listen 127.0.0.1:0 --database "$SOURCE" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 300); do grep -q 'listening on http://' "$WORK/server.log" && break; sleep 0.1; done
export LATCHKEY_URL="http://$(sed -n 's|.*listening on http://||p' "$WORK/server.log" | head -n1)"
export LATCHKEY_TOKEN=$(sed -n 's|.*admin token: ||p' "$WORK/server.log" | head -n1)
APP=$("$BIN" apps create --name copied --output id)
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
start=$(now)
"$BIN" admin seed --database "$SOURCE" --app "$APP" --count "$COUNT" 2>/dev/null
seeded=$(elapsed "$start")
start=$(now)
"$BIN" admin backup --database "$SOURCE" --to "$WORK/source.backup" 2>/dev/null
sqlite_backup=$(elapsed "$start")
start=$(now)
"$BIN" admin restore --from "$WORK/source.backup" --database "sqlite://$WORK/restored.db" 2>/dev/null
sqlite_restore=$(elapsed "$start")

# shellcheck source=../pg.sh
source scripts/pg.sh
PG_NO_TRAP=1 pg_start >/dev/null
MIDDLE=$LATCHKEY_TEST_POSTGRES_URL

# Prints the copy's time in seconds and its peak resident memory in MB.
timed_copy() {
    local start
    start=$(now)
    /usr/bin/time -f %M -o "$WORK/rss" "$BIN" admin copy --from "$1" --to "$2" --quiet
    echo "$(elapsed "$start") s, peak $(($(tail -n1 "$WORK/rss") / 1024)) MB"
}
to_postgres=$(timed_copy "$SOURCE" "$MIDDLE")
start=$(now)
"$LATCHKEY_TEST_POSTGRES_BINDIR/pg_dump" --format=custom --file "$WORK/middle.dump" "$MIDDLE"
pg_backup=$(elapsed "$start")
"$LATCHKEY_TEST_POSTGRES_BINDIR/psql" -X -q -d "$MIDDLE" -c "CREATE DATABASE restored"
start=$(now)
"$LATCHKEY_TEST_POSTGRES_BINDIR/pg_restore" --no-owner --dbname "${MIDDLE%/*}/restored" "$WORK/middle.dump"
pg_restore=$(elapsed "$start")
to_sqlite=$(timed_copy "$MIDDLE" "$BACK")

tokens() { "$BIN" tokens list --app "$APP" --per-page 1 --output json | python3 -c 'import json, sys; print(json.load(sys.stdin)["totalCount"])'; }
counts=""
for db in "$SOURCE" "$MIDDLE" "$BACK"; do
    "$BIN" serve --listen 127.0.0.1:0 --database "$db" 2>"$WORK/server.log" &
    SERVER_PID=$!
    for _ in $(seq 300); do grep -q 'listening on http://' "$WORK/server.log" && break; sleep 0.1; done
    LATCHKEY_URL="http://$(sed -n 's|.*listening on http://||p' "$WORK/server.log" | head -n1)"
    counts="$counts $(tokens)"
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
done
echo "$COUNT tokens seeded in ${seeded} s; SQLite backup ${sqlite_backup} s, restore ${sqlite_restore} s;" \
    "SQLite -> PostgreSQL ${to_postgres}; pg_dump ${pg_backup} s, pg_restore ${pg_restore} s;" \
    "PostgreSQL -> SQLite ${to_sqlite}; tokens listed (source, PostgreSQL, back):$counts"
