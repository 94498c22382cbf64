#!/usr/bin/env bash
# Runs every test of Latchkey: the Rust unit and integration tests, then the
# compatibility suite that drives the built server through Losant's official
# Python client, then the console suite that drives the web console in a
# headless Chromium; each test once on SQLite and once on PostgreSQL; then
# schemathesis against the server's OpenAPI document. Installs what the tests
# need (Python venvs; Debian's chromium, as root) on first use.
#
# PostgreSQL: a throwaway server from the machine's own binaries
# (scripts/pg.sh: as a non-root user, on a free port of 127.0.0.1, in a
# temporary directory, with TLS on and a CA of its own), stopped and removed
# at the end however the run ends.
#   LATCHKEY_TEST_SKIP_POSTGRES=1        SQLite only, for quick local runs
#   LATCHKEY_TEST_POSTGRES_URL=postgres://USER@HOST:PORT/DB
#                                        use that server instead of starting one
#                                        (the Rust tests create and drop a database
#                                        per test on it; the compatibility suite
#                                        uses DB itself); with it, set
#                                        LATCHKEY_TEST_PG_STOP and _START to shell
#                                        commands that stop and start that server
#                                        (the outage test needs them, and fails
#                                        without them), and LATCHKEY_TEST_POSTGRES_CA
#                                        to the CA file (PEM) of its TLS certificate
#                                        (the TLS test needs it, and fails without it)
# Whenever PostgreSQL runs, LATCHKEY_TEST_REQUIRE_POSTGRES=1 is exported: both
# suites then fail, rather than quietly run on SQLite alone, when
# LATCHKEY_TEST_POSTGRES_URL is unset or its server cannot be reached.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="target/compat-venv"
SECONDS=0
step() { printf '\n== %s [%ds]\n' "$*" "$SECONDS"; }

step "building"
cargo build --workspace --all-targets

if [ "${LATCHKEY_TEST_SKIP_POSTGRES:-0}" = 1 ]; then
    unset LATCHKEY_TEST_POSTGRES_URL LATCHKEY_TEST_REQUIRE_POSTGRES
    backends="SQLite only"
    step "PostgreSQL skipped (LATCHKEY_TEST_SKIP_POSTGRES=1)"
elif [ -n "${LATCHKEY_TEST_POSTGRES_URL:-}" ]; then
    backends="SQLite and PostgreSQL"
    export LATCHKEY_TEST_REQUIRE_POSTGRES=1
    step "PostgreSQL: the given server, $LATCHKEY_TEST_POSTGRES_URL"
else
    backends="SQLite and PostgreSQL"
    export LATCHKEY_TEST_REQUIRE_POSTGRES=1
    step "starting a throwaway PostgreSQL"
    # shellcheck source=scripts/pg.sh
    source scripts/pg.sh
    pg_start # exports LATCHKEY_TEST_POSTGRES_URL; stopped on exit (trap)
fi

# Both suites run even when the first fails, so one run shows every failure.
failed=()

step "Rust tests ($backends)"
cargo test --workspace --no-fail-fast || failed+=("Rust tests")

step "compatibility suite: losant-rest, the official Python client ($backends)"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/compat/requirements.txt
LATCHKEY_BIN="$PWD/target/debug/latchkey" "$venv/bin/python" -m pytest tests/compat -q ||
    failed+=("compatibility suite")

# --- the web console in a real browser ----------------------------------------
# tests/console: Playwright (PyPI, its own venv) drives Debian's chromium,
# installed here when /usr/bin/chromium is missing (never a browser download
# of Playwright's own; LATCHKEY_TEST_CHROMIUM names another Chromium).
# Screenshots of each page go to LATCHKEY_CONSOLE_SCREENSHOTS (default
# target/console-screenshots), one folder per backend. Bounded: the run gives
# up after 10 minutes.
have_chromium() {
    if [ -n "${LATCHKEY_TEST_CHROMIUM:-}" ] || [ -x /usr/bin/chromium ]; then
        return 0
    fi
    local as_root=()
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            as_root=(sudo -n)
        else
            echo "the console suite needs Chromium: run this as root (it installs Debian's chromium)," \
                "apt-get install chromium yourself, or set LATCHKEY_TEST_CHROMIUM to a Chromium binary" >&2
            return 1
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "the console suite needs Chromium, and there is no apt-get here to install Debian's chromium:" \
            "install Chromium and set LATCHKEY_TEST_CHROMIUM to it" >&2
        return 1
    fi
    echo "installing Debian's chromium with apt-get"
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -qq &&
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive timeout 600 \
            apt-get install -y -qq --no-install-recommends chromium >/dev/null
}
step "console suite: the web console in headless Chromium ($backends)"
console_venv="target/console-venv"
export LATCHKEY_CONSOLE_SCREENSHOTS="${LATCHKEY_CONSOLE_SCREENSHOTS:-$PWD/target/console-screenshots}"
if have_chromium; then
    if [ ! -x "$console_venv/bin/python" ]; then
        python3 -m venv "$console_venv"
    fi
    "$console_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/console/requirements.txt
    rm -rf "$LATCHKEY_CONSOLE_SCREENSHOTS/sqlite" "$LATCHKEY_CONSOLE_SCREENSHOTS/postgres"
    LATCHKEY_BIN="$PWD/target/debug/latchkey" timeout 600 "$console_venv/bin/python" -m pytest tests/console -q ||
        failed+=("console suite")
    echo "console screenshots: $LATCHKEY_CONSOLE_SCREENSHOTS/"
else
    failed+=("console suite (no Chromium)")
fi

# --- OpenAPI: schemathesis against a live server ------------------------------
# tests/openapi/run.py starts its own server (a free loopback port, a fresh
# SQLite database), fuzzes every operation of GET /openapi.json with every
# check on, and stops it; its own venv, as schemathesis pins its own versions.
# Bounded: about a minute; the run gives up after 4 minutes, this after 5.
step "OpenAPI document: schemathesis against a live server (SQLite)"
openapi_venv="target/openapi-venv"
if [ ! -x "$openapi_venv/bin/python" ]; then
    python3 -m venv "$openapi_venv"
fi
"$openapi_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/openapi/requirements.txt
LATCHKEY_BIN="$PWD/target/debug/latchkey" timeout 300 "$openapi_venv/bin/python" tests/openapi/run.py ||
    failed+=("OpenAPI schemathesis run")

if [ "${#failed[@]}" -gt 0 ]; then
    step "FAILED: $(printf '%s, ' "${failed[@]}" | sed 's/, $//') ($backends)"
    exit 1
fi
step "every test passed ($backends)"
