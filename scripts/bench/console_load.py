#!/usr/bin/env python3
"""The web console's bundle size, and its first load of an application's
token list on a large application against a small one.

    cargo build --release -p latchkey
    target/console-venv/bin/python scripts/bench/console_load.py     # the venv scripts/test.sh makes

1. Bundle: every asset the console serves (the `asset!` entries of
   crates/latchkey-server/src/console.rs), fetched from the running server:
   bytes as served, and as gzip -9 would make them.
2. First load: a fresh SQLite database; an application L seeded with
   `latchkey admin seed --count COUNT` (1,000,000 by default) and an
   application S with SMALL (10) tokens. Each run opens a new browser context
   (empty cache, the admin token put in its sessionStorage as signing in
   does) and loads /console/#/applications/<id>, for S and L alternately.
   The time is performance.now() (milliseconds since the navigation began)
   when the first row of the token list is in the page, recorded by a
   MutationObserver in the page; Playwright then checks the row is visible
   and the summary counts the application's tokens. Also reported: the
   navigation's own timing (responseEnd, DOMContentLoaded, load) and how long
   the list's API request took in the browser (resource timing).

Medians over RUNS runs each (7 by default); every run is printed too. Needs
Chromium (tests/support/chromium.py) and Playwright (tests/console/requirements.txt).
Everything stays on 127.0.0.1; the server and the browser are stopped, and
the temporary directory removed, at the end.
"""

import argparse
import gzip
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "support"))
import chromium  # noqa: E402  (tests/support, put on the path just above)
from latchkey_server import Server  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

CONSOLE_RS = REPO / "crates" / "latchkey-server" / "src" / "console.rs"
SEED_TIMEOUT_S = 1800
HTTP_TIMEOUT_S = 30
LOAD_TIMEOUT_MS = 60_000

# Installed before the page's own scripts: notes when the token list's first
# row appears, and puts the token where the console keeps it after a sign-in.
INIT_SCRIPT = """
sessionStorage.setItem('latchkey.token', %s);
new MutationObserver((changes, observer) => {
  const table = [...document.querySelectorAll('table')]
    .find((t) => t.caption && t.caption.textContent.trim() === 'Tokens');
  if (table && table.querySelector('tbody tr')) {
    window.__tokensShownAt = performance.now();
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""

READ_TIMINGS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const list = performance.getEntriesByType('resource').filter((e) => /\\/tokens(\\?|$)/.test(e.name));
  return {
    shown: window.__tokensShownAt,
    responseEnd: nav.responseEnd,
    domContentLoaded: nav.domContentLoadedEventEnd,
    load: nav.loadEventEnd,
    listRequest: list.length ? list[list.length - 1].duration : null,
    requests: performance.getEntriesByType('resource').length + 1,
    fetched: performance.getEntriesByType('resource').map((e) => ({
      path: new URL(e.name).pathname, start: e.startTime, end: e.responseEnd,
    })),
  };
}"""


def api(server, method, path, token, body=None):
    request = urllib.request.Request(
        server.url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
        return json.load(response)


def asset_names():
    """The console's assets, as console.rs lists them (index.html is /console/ itself)."""
    names = re.findall(r'asset!\(\s*"([^"]+)"', CONSOLE_RS.read_text(encoding="utf-8"))
    if not names:
        sys.exit("no asset!(\"…\") entries in %s: has the console moved?" % CONSOLE_RS)
    return names


def bundle(server):
    """[(name, bytes served, gzip -9 bytes)] for every asset."""
    rows = []
    for name in asset_names():
        path = "/console/" if name == "index.html" else "/console/" + name
        with urllib.request.urlopen(server.url + path, timeout=HTTP_TIMEOUT_S) as response:
            body = response.read()
            encoding = response.headers.get("Content-Encoding")
        if encoding:
            sys.exit("%s came %s-encoded: measure the decoded size instead" % (path, encoding))
        rows.append((name, len(body), len(gzip.compress(body, compresslevel=9, mtime=0))))
    return rows


def load_once(browser, server, token, app_id, expected_total):
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 800})
    try:
        context.add_init_script(INIT_SCRIPT % json.dumps(token))
        page = context.new_page()
        page.set_default_timeout(LOAD_TIMEOUT_MS)
        page.goto("/console/#/applications/%s" % app_id)
        table = page.get_by_role("table", name="Tokens")
        expect(table.locator("tbody tr").first).to_be_visible(timeout=LOAD_TIMEOUT_MS)
        expect(page.get_by_role("status")).to_contain_text("of %s tokens" % format(expected_total, ","))
        page.wait_for_load_state("load")
        timings = page.evaluate(READ_TIMINGS)
        if timings["shown"] is None:
            sys.exit("the token list was visible, but the page's observer did not see its first row")
        return timings
    finally:
        context.close()


def median(runs, key):
    values = [run[key] for run in runs if run[key] is not None]
    return statistics.median(values) if values else None


def ms(value):
    return "–" if value is None else "%.0f ms" % value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=str(REPO / "target" / "release" / "latchkey"))
    parser.add_argument("--count", type=int, default=1_000_000, help="tokens of the large application")
    parser.add_argument("--small", type=int, default=10, help="tokens of the small application")
    parser.add_argument("--runs", type=int, default=7, help="loads of each application")
    args = parser.parse_args()
    args.bin = str(Path(args.bin).resolve())  # the server runs in its own folder
    problem = chromium.missing()
    if problem:
        sys.exit(problem)

    with tempfile.TemporaryDirectory(prefix="latchkey-console-bench.") as workdir:
        server = Server(args.bin, workdir)
        try:
            run(server, args)
        finally:
            server.stop()


def run(server, args):
    token = server.admin_token
    apps = {}
    for label, count in (("S", args.small), ("L", args.count)):
        app_id = api(server, "POST", "/applications", token, {"name": "console bench %s" % label})["id"]
        started = time.monotonic()
        subprocess.run(
            [args.bin, "admin", "seed", "--database", server.db_url, "--app", app_id, "--count", str(count)],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            timeout=SEED_TIMEOUT_S,
        )
        print("seeded %s: %s tokens in %.0f s" % (label, format(count, ","), time.monotonic() - started), file=sys.stderr)
        apps[label] = (app_id, count)

    assets = bundle(server)
    runs = {"S": [], "L": []}
    with sync_playwright() as driver:
        browser = chromium.launch(driver)
        try:
            for index in range(args.runs):
                for label in ("S", "L"):
                    app_id, count = apps[label]
                    timing = load_once(browser, server, token, app_id, count)
                    runs[label].append(timing)
                    brief = {key: value for key, value in timing.items() if key != "fetched"}
                    print("run %d %s: %s" % (index + 1, label, json.dumps(brief)), file=sys.stderr)
            version = browser.version
        finally:
            browser.close()

    print("#### Bundle: every asset of /console/, as served (no compression) and gzip -9\n")
    print("| asset | bytes | gzip -9 |\n|---|---:|---:|")
    for name, raw, packed in assets:
        print("| `%s` | %s | %s |" % (name, format(raw, ","), format(packed, ",")))
    print(
        "| **all %d** | **%s** | **%s** |\n"
        % (len(assets), format(sum(r for _, r, _ in assets), ","), format(sum(p for _, _, p in assets), ","))
    )
    print(
        "#### First load of the token list (Chromium %s, 1280×800, empty cache; median of %d runs each)\n"
        % (version, args.runs)
    )
    print("| application | tokens | list shown | responseEnd | DOMContentLoaded | load | list request | requests |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label in ("S", "L"):
        rs = runs[label]
        print(
            "| %s | %s | **%s** | %s | %s | %s | %s | %d |"
            % (
                label,
                format(apps[label][1], ","),
                ms(median(rs, "shown")),
                ms(median(rs, "responseEnd")),
                ms(median(rs, "domContentLoaded")),
                ms(median(rs, "load")),
                ms(median(rs, "listRequest")),
                rs[0]["requests"],
            )
        )
    print("\nEvery run's \"list shown\", in order:\n")
    for label in ("S", "L"):
        print("- %s: %s" % (label, ", ".join("%.0f" % r["shown"] for r in runs[label])))
    middle = sorted(runs["L"], key=lambda r: r["shown"])[len(runs["L"]) // 2]
    print("\nWhat L's median run fetched after the page itself (ms since the navigation began):\n")
    print("| path | start | end |\n|---|---:|---:|")
    for entry in middle["fetched"]:
        path = re.sub(r"[0-9a-f]{24}", "{id}", entry["path"])
        print("| `%s` | %.0f | %.0f |" % (path, entry["start"], entry["end"]))


if __name__ == "__main__":
    main()
