#!/usr/bin/env bash
# Runs every test of Latchkey: the Rust unit and integration tests, then the
# compatibility suite that drives the built server through Losant's official
# Python client. Installs what the tests need (a Python venv) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="target/compat-venv"

echo "== building"
cargo build --workspace --all-targets

echo "== Rust tests"
cargo test --workspace

echo "== compatibility suite (losant-rest, the official Python client)"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/compat/requirements.txt
LATCHKEY_BIN="$PWD/target/debug/latchkey" "$venv/bin/python" -m pytest tests/compat -q
