#!/usr/bin/env bash
# Runs every test of Latchkey: the Rust unit and integration tests, then the
# compatibility suite that drives the built server through Losant's official
# Python client; each test once on SQLite and once on PostgreSQL; then
# schemathesis against the server's OpenAPI document. Installs what the tests
# need (Python venvs) on first use.
#
# PostgreSQL: a throwaway server from the machine's own binaries
# (scripts/pg.sh: as a non-root user, on a free port of 127.0.0.1, in a
# temporary directory), stopped and removed at the end however the run ends.
#   LATCHKEY_TEST_SKIP_POSTGRES=1        SQLite only, for quick local runs
#   LATCHKEY_TEST_POSTGRES_URL=postgres://USER@HOST:PORT/DB
#                                        use that server instead of starting one
#                                        (the Rust tests create and drop a database
#                                        per test on it; the compatibility suite
#                                        uses DB itself); with it, set
#                                        LATCHKEY_TEST_PG_STOP and _START to shell
#                                        commands that stop and start that server
#                                        (the outage test needs them, and fails
#                                        without them)
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
