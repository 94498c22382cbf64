"""How the Python suites and benchmarks start Chromium: Debian's `chromium`
package (LATCHKEY_TEST_CHROMIUM names another), driven by Playwright from
PyPI, whose own browser download is never used (it cannot work here: the
machines reach package registries only).

    from playwright.sync_api import sync_playwright
    with sync_playwright() as driver:
        browser = chromium.launch(driver)
"""

import os

CHROMIUM = os.environ.get("LATCHKEY_TEST_CHROMIUM", "/usr/bin/chromium")

# Headless (Playwright's default), without a sandbox (Playwright's default,
# needed as root), in a new empty profile (Playwright makes one per launch),
# and without any connection of Chromium's own: the network is closed here,
# and Chromium's background requests would otherwise fail at every start.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

LAUNCH_TIMEOUT_MS = 20_000


def missing():
    """Why Chromium cannot be started, or None when it can."""
    if os.access(CHROMIUM, os.X_OK):
        return None
    return (
        "no Chromium at %s: install Debian's chromium package (scripts/test.sh does, as root), "
        "or set LATCHKEY_TEST_CHROMIUM to a Chromium binary" % CHROMIUM
    )


def launch(driver):
    """A headless Chromium from a started Playwright `driver` (sync API)."""
    return driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=LAUNCH_TIMEOUT_MS)
