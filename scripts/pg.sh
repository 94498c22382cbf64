# shellcheck shell=bash
# A throwaway PostgreSQL for tests and benchmarks, from the machine's own
# PostgreSQL binaries. Source this file, then:
#
#   pg_start   starts a fresh cluster in a new temporary directory, listening
#              only on 127.0.0.1 on a free port (no socket outside that
#              directory), trust authentication, with an empty database
#              `latchkey_test`; exports
#                LATCHKEY_TEST_POSTGRES_URL=postgres://USER@127.0.0.1:PORT/latchkey_test
#                LATCHKEY_TEST_POSTGRES_BINDIR=the binaries' directory (psql, pg_dump)
#                LATCHKEY_TEST_PG_STOP, LATCHKEY_TEST_PG_START=shell commands (for
#                  `sh -c`) that stop that server and start it again, on the
#                  same port and data (for tests of a database outage)
#                LATCHKEY_TEST_POSTGRES_CA=the CA certificate (PEM) that signed
#                  the server's TLS certificate (for 127.0.0.1 and localhost),
#                  when openssl is there to make them (ssl = on; clients
#                  that ask for no TLS connect in plain text as before)
#              and, unless PG_NO_TRAP=1, traps EXIT (and INT, TERM, HUP) so that
#              the server is stopped and its directory removed however the
#              script ends. A caller with its own EXIT trap sets PG_NO_TRAP=1
#              and calls pg_stop from that trap.
#   pg_stop    stops that server (bounded waits) and removes its directory;
#              safe to call more than once, or when nothing was started.
#              `pg_stop STATUS` with a non-zero STATUS first prints the last
#              errors of the server's log.
#
# As root the server runs as a non-root user (PostgreSQL refuses root): the
# `postgres` user if it exists, else a system user `latchkey-pg` created on
# first use; the temporary directory belongs to that user. As anyone else it
# runs as that user.
#
# Settings (environment):
#   LATCHKEY_PG_BINDIR        the directory holding initdb, pg_ctl, postgres
#                             (default: found on PATH, else the newest
#                             /usr/lib/postgresql/*/bin, .../pgsql-*/bin)
#   LATCHKEY_PG_INSTALL=0     as root, do not apt-get install PostgreSQL when
#                             no binaries are found (the default installs)
#   LATCHKEY_PG_KEEP=1        keep the directory after stopping (debugging)
#   LATCHKEY_PG_DURABLE=1     keep fsync and full_page_writes on, as in
#                             production (for benchmarks of commits)
#   LATCHKEY_PG_SSL=0         no TLS (ssl = off), no LATCHKEY_TEST_POSTGRES_CA
#
# Durability settings are off (fsync, full_page_writes; unless
# LATCHKEY_PG_DURABLE=1): the cluster lives
# for one run and is never recovered after a crash of the machine. Killing a
# client (as the durability tests do) loses nothing either way.

PG_DB_NAME="latchkey_test"
PG_FALLBACK_USER="latchkey-pg"
PG_START_TIMEOUT=30   # seconds pg_ctl waits for start and stop
PG_CMD_TIMEOUT=60     # seconds for initdb and each psql call

_pg_log() { printf 'pg: %s\n' "$*" >&2; }

# The directory of initdb/pg_ctl/postgres: prints it, or fails.
_pg_bindir() {
    local dir candidate
    _pg_has_all() { [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ] && [ -x "$1/postgres" ]; }
    if [ -n "${LATCHKEY_PG_BINDIR:-}" ]; then
        if _pg_has_all "$LATCHKEY_PG_BINDIR"; then
            printf '%s\n' "$LATCHKEY_PG_BINDIR"
            return 0
        fi
        _pg_log "LATCHKEY_PG_BINDIR=$LATCHKEY_PG_BINDIR lacks initdb, pg_ctl or postgres"
        return 1
    fi
    # On PATH, following symlinks to the real directory (Debian links a few
    # binaries into /usr/local/bin or /usr/bin; the rest sit beside the target).
    for candidate in initdb pg_ctl postgres; do
        if command -v "$candidate" >/dev/null 2>&1; then
            dir=$(dirname "$(readlink -f "$(command -v "$candidate")")")
            if _pg_has_all "$dir"; then
                printf '%s\n' "$dir"
                return 0
            fi
        fi
    done
    # Distribution layouts, newest major version first.
    dir=$(
        for candidate in /usr/lib/postgresql/*/bin /usr/pgsql-*/bin /usr/local/pgsql/bin /opt/homebrew/opt/postgresql*/bin; do
            _pg_has_all "$candidate" && printf '%s\n' "$candidate"
        done | sort -V | tail -n 1
    )
    if [ -n "$dir" ]; then
        printf '%s\n' "$dir"
        return 0
    fi
    return 1
}

# As root on a Debian-like machine without PostgreSQL: install its server
# binaries (the package's own cluster and service are not used).
_pg_install() {
    [ "$(id -u)" = 0 ] && [ "${LATCHKEY_PG_INSTALL:-1}" != 0 ] && [ -z "${LATCHKEY_PG_BINDIR:-}" ] &&
        command -v apt-get >/dev/null 2>&1 || return 1
    _pg_log "no PostgreSQL binaries found; installing them with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -qq >&2 || return 1
    timeout 600 apt-get install -y -qq --no-install-recommends postgresql >&2 || return 1
}

# A throwaway CA and, signed by it, the server's certificate for 127.0.0.1
# and localhost, in $PG_DIR/ssl; prints the settings that turn TLS on.
_pg_make_tls() {
    local dir="$PG_DIR/ssl"
    mkdir -p "$dir" || return 1
    local key=(-nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256)
    printf '%s\n' "basicConstraints = critical, CA:FALSE" "keyUsage = critical, digitalSignature" \
        "extendedKeyUsage = serverAuth" "subjectAltName = IP:127.0.0.1, DNS:localhost" >"$dir/server.ext"
    if ! {
        openssl req -x509 "${key[@]}" -days 7 -subj "/CN=latchkey test CA" \
            -addext "basicConstraints = critical, CA:TRUE" -addext "keyUsage = critical, keyCertSign, cRLSign" \
            -keyout "$dir/ca.key" -out "$dir/ca.pem" &&
            openssl req -new "${key[@]}" -subj "/CN=localhost" -keyout "$dir/server.key" -out "$dir/server.csr" &&
            openssl x509 -req -days 7 -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
                -CAcreateserial -extfile "$dir/server.ext" -out "$dir/server.crt"
    } >"$dir/openssl.log" 2>&1; then
        cat "$dir/openssl.log" >&2
        return 1
    fi
    # PostgreSQL reads a key only its own user can read.
    chmod 600 "$dir/server.key"
    [ "$PG_USER" = "$(id -un)" ] || chown -R "$PG_USER:" "$dir"
    printf "ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n" "$dir/server.crt" "$dir/server.key"
}

# Runs a command as the server's user.
_pg_as_user() {
    if [ "$PG_USER" = "$(id -un)" ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$PG_USER" -- "$@"
    else
        setpriv --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" --init-groups -- "$@"
    fi
}

# _pg_as_user as words for a shell command line (empty when not needed).
_pg_as_user_words() {
    if [ "$PG_USER" = "$(id -un)" ]; then
        return 0
    elif command -v runuser >/dev/null 2>&1; then
        printf 'runuser -u %q -- ' "$PG_USER"
    else
        printf 'setpriv --reuid=%q --regid=%q --init-groups -- ' "$PG_USER" "$(id -g "$PG_USER")"
    fi
}

# The user the server runs as: the caller, or for root a non-root user.
_pg_choose_user() {
    if [ "$(id -u)" != 0 ]; then
        id -un
        return 0
    fi
    if id -u postgres >/dev/null 2>&1; then
        echo postgres
        return 0
    fi
    if ! id -u "$PG_FALLBACK_USER" >/dev/null 2>&1; then
        # Another run may create it at the same moment: only its absence afterwards is an error.
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
            "$PG_FALLBACK_USER" >/dev/null 2>&1 || true
    fi
    if id -u "$PG_FALLBACK_USER" >/dev/null 2>&1; then
        echo "$PG_FALLBACK_USER"
        return 0
    fi
    _pg_log "could not create the system user $PG_FALLBACK_USER to run PostgreSQL as"
    return 1
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
_pg_free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

_pg_psql() {
    # As the caller, over TCP (trust on loopback), bounded in time.
    PGCONNECT_TIMEOUT=10 timeout "$PG_CMD_TIMEOUT" "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$@"
}

pg_start() {
    if [ -n "${PG_DIR:-}" ]; then
        _pg_log "already started (in $PG_DIR)"
        return 1
    fi
    PG_BINDIR=$(_pg_bindir) || { _pg_install && PG_BINDIR=$(_pg_bindir); } || {
        _pg_log "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found on PATH or in /usr/lib/postgresql/*/bin;"
        _pg_log "install PostgreSQL (Debian: apt-get install postgresql), or set LATCHKEY_PG_BINDIR"
        return 1
    }
    PG_USER=$(_pg_choose_user) || return 1

    # From here on there is something to clean up.
    if [ "${PG_NO_TRAP:-0}" != 1 ]; then
        trap 'pg_stop $?' EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        trap 'exit 129' HUP
    fi

    local parent="${TMPDIR:-/tmp}"
    PG_DIR=$(mktemp -d "$parent/latchkey-pg.XXXXXX") || return 1
    chmod 700 "$PG_DIR"
    if [ "$PG_USER" != "$(id -un)" ]; then
        chown "$PG_USER:" "$PG_DIR"
        # Root's TMPDIR may sit where the server's user cannot reach: use /tmp then.
        if ! _pg_as_user test -w "$PG_DIR"; then
            rm -rf "$PG_DIR"
            PG_DIR=$(mktemp -d /tmp/latchkey-pg.XXXXXX) || return 1
            chmod 700 "$PG_DIR"
            chown "$PG_USER:" "$PG_DIR"
        fi
    fi
    local data="$PG_DIR/data"
    local version
    version=$("$PG_BINDIR/postgres" --version 2>/dev/null)
    _pg_log "starting ${version:-PostgreSQL} from $PG_BINDIR as user $PG_USER in $PG_DIR"

    # C.UTF-8 where the machine has it, else C; UTF8 either way.
    local locale=C
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
        locale=C.UTF-8
    fi
    if ! _pg_as_user timeout "$PG_CMD_TIMEOUT" "$PG_BINDIR/initdb" -D "$data" -U "$PG_USER" \
        --auth-local=trust --auth-host=trust -E UTF8 --locale="$locale" --no-sync \
        >"$PG_DIR/initdb.log" 2>&1; then
        _pg_log "initdb failed:"
        cat "$PG_DIR/initdb.log" >&2
        return 1
    fi

    local tls_settings=""
    if [ "${LATCHKEY_PG_SSL:-1}" != 0 ]; then
        if ! command -v openssl >/dev/null 2>&1; then
            _pg_log "no openssl to make a TLS certificate with: the server runs without TLS"
        elif ! tls_settings=$(_pg_make_tls); then
            _pg_log "could not make a TLS certificate: the server runs without TLS"
            tls_settings=""
        fi
    fi

    # A port picked free can be taken before the server binds it: try a few.
    local attempt started=0 durable=off
    [ "${LATCHKEY_PG_DURABLE:-0}" = 1 ] && durable=on
    for attempt in 1 2 3; do
        [ "$attempt" = 1 ] || _pg_log "port $PG_PORT was taken meanwhile; trying another"
        PG_PORT=$(_pg_free_port) || return 1
        cat >"$PG_DIR/conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
max_connections = 300
fsync = $durable
full_page_writes = $durable
logging_collector = off
log_min_messages = warning
log_checkpoints = off
log_min_error_statement = error
$tls_settings
EOF
        # The settings go last in postgresql.conf (the last line wins).
        # shellcheck disable=SC2016 # expanded by that sh, from its arguments
        _pg_as_user sh -c 'cat "$1/conf" >>"$2/postgresql.conf"' sh "$PG_DIR" "$data"
        if _pg_as_user "$PG_BINDIR/pg_ctl" -D "$data" -l "$PG_DIR/postgres.log" -w -t "$PG_START_TIMEOUT" \
            start >"$PG_DIR/pg_ctl.log" 2>&1; then
            started=1
            break
        fi
        if ! grep -q "could not bind\|Address already in use" "$PG_DIR/postgres.log" 2>/dev/null; then
            break
        fi
    done
    if [ "$started" != 1 ]; then
        _pg_log "PostgreSQL did not start:"
        cat "$PG_DIR/pg_ctl.log" "$PG_DIR/postgres.log" >&2 2>/dev/null
        return 1
    fi

    if ! _pg_psql -d postgres -c "CREATE DATABASE $PG_DB_NAME" >&2; then
        _pg_log "could not create the database $PG_DB_NAME"
        return 1
    fi
    export LATCHKEY_TEST_POSTGRES_URL="postgres://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB_NAME"
    export LATCHKEY_TEST_POSTGRES_BINDIR="$PG_BINDIR"
    local as_user
    as_user=$(_pg_as_user_words)
    LATCHKEY_TEST_PG_STOP="$as_user$(printf '%q ' "$PG_BINDIR/pg_ctl" -D "$data" -m fast -w \
        -t "$PG_START_TIMEOUT" stop)>/dev/null"
    LATCHKEY_TEST_PG_START="$as_user$(printf '%q ' "$PG_BINDIR/pg_ctl" -D "$data" -l "$PG_DIR/postgres.log" \
        -w -t "$PG_START_TIMEOUT" start)>/dev/null"
    export LATCHKEY_TEST_PG_STOP LATCHKEY_TEST_PG_START
    if [ -n "$tls_settings" ]; then
        export LATCHKEY_TEST_POSTGRES_CA="$PG_DIR/ssl/ca.pem"
    fi
    _pg_log "ready: $LATCHKEY_TEST_POSTGRES_URL${tls_settings:+ (TLS on, CA $PG_DIR/ssl/ca.pem)}"
}

pg_stop() {
    local status="${1:-0}"
    [ -n "${PG_DIR:-}" ] || return 0
    local data="$PG_DIR/data"
    if [ "$status" != 0 ] && [ -s "$PG_DIR/postgres.log" ]; then
        # What the server refused, not the disconnects of killed clients.
        local errors
        # `|| true`: finding none must not end a caller running under `set -e -o pipefail`.
        errors=$(grep -E '(ERROR|FATAL|PANIC|DETAIL|HINT|CONTEXT|STATEMENT):' "$PG_DIR/postgres.log" | tail -n 30 || true)
        if [ -n "$errors" ]; then
            _pg_log "the last errors in PostgreSQL's log:"
            printf '%s\n' "$errors" | cut -c 1-400 | sed 's/^/pg|  /' >&2
        else
            _pg_log "no errors in PostgreSQL's log"
        fi
    fi
    if [ -f "$data/postmaster.pid" ]; then
        if ! _pg_as_user "$PG_BINDIR/pg_ctl" -D "$data" -m fast -w -t "$PG_START_TIMEOUT" stop >/dev/null 2>&1 &&
            ! _pg_as_user "$PG_BINDIR/pg_ctl" -D "$data" -m immediate -w -t "$PG_START_TIMEOUT" stop >/dev/null 2>&1; then
            # The last resort: the postmaster this file names, which this run started.
            local pid
            pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null)
            if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
                _pg_log "PostgreSQL did not stop; killing its postmaster $pid"
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
    fi
    if [ "${LATCHKEY_PG_KEEP:-0}" = 1 ]; then
        _pg_log "stopped; kept $PG_DIR"
    else
        rm -rf "$PG_DIR"
        _pg_log "stopped; removed $PG_DIR"
    fi
    PG_DIR=""
    unset LATCHKEY_TEST_POSTGRES_URL LATCHKEY_TEST_POSTGRES_BINDIR LATCHKEY_TEST_PG_STOP LATCHKEY_TEST_PG_START \
        LATCHKEY_TEST_POSTGRES_CA
    return 0
}
