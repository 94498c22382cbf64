"""Fixtures of the console suite: the web console at /console/ in a real,
headless Chromium (Debian's `chromium` package, driven by Playwright from
PyPI), served by a real `latchkey serve` on each storage backend.

The server and the backends are tests/support/latchkey_server.py, shared with
the compatibility suite: every test that uses the server runs once per backend
(`test_x[sqlite]`, `test_x[postgres]`), and on PostgreSQL the database may
have been used before, so no test may assume it is empty.

Fixtures (see README.md beside this file):

- `server`, `admin_token`: the session's server and its admin token;
- `page` (1280x800) and `phone` (390x844, mobile): a fresh browser context
  each, so a fresh sessionStorage; `new_page(viewport, mobile)` for more;
- `page_events`: what the test's pages did that nobody expected fails the
  test (uncaught errors, console errors, CSP violations, dialogs, server
  errors, assets not found); `allow_console_error(regex)` and
  `expect_dialog(regex, accept)` declare what a test expects;
- `axe(page)`: runs axe-core on the page as it is; fails on any serious or
  critical violation, and returns every violation;
- `screenshot(page, name)`: a PNG in LATCHKEY_CONSOLE_SCREENSHOTS (default
  target/console-screenshots)/<backend>/<name>.png;
- `sign_in(page, token)`: opens /console/ and signs in with the token.

Every wait is bounded: WAIT_MS for an element or an expect(), NAVIGATION_MS
for a page load; the browser is closed at the end of the session.
"""

import os
import re
import signal
import sys
from importlib.resources import files
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import chromium  # noqa: E402  (tests/support, put on the path just above)
import latchkey_server  # noqa: E402
from latchkey_server import (  # noqa: E402,F401  (fixtures, and names the tests may import from here)
    REPO,
    _server_survives,
    backend,
    latchkey_bin,
)

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

WAIT_MS = 10_000  # an element, a click, an expect()
NAVIGATION_MS = 20_000  # a page load

SCREENSHOTS = Path(os.environ.get("LATCHKEY_CONSOLE_SCREENSHOTS") or REPO / "target" / "console-screenshots")

# axe-core, as the pinned PyPI package axe-playwright-python ships it.
AXE_SOURCE = files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")
# Impacts that fail a test.
AXE_FAILING = ("serious", "critical")

# The sign-in form's labels (crates/latchkey-server/console/views/signin.js)
# and the button of a signed-in page (app.js).
SIGN_IN_TOKEN_LABEL = "API token"
SIGN_IN_BUTTON = "Sign in"
SIGN_OUT_BUTTON = "Sign out"

expect.set_options(timeout=WAIT_MS)


def pytest_configure(config):
    latchkey_server.check_required_postgres()
    problem = chromium.missing()
    if problem:
        raise pytest.UsageError(problem)
    # SIGTERM (scripts/test.sh's time limit) ends the run as Ctrl-C does, so
    # the teardowns still stop the servers and close the browser.
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame):
    # Once: `timeout` signals the process and then its whole group, so the
    # second SIGTERM would interrupt the teardowns this one starts.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt("SIGTERM")


# --------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------


server = latchkey_server.server_fixture()


@pytest.fixture(scope="session")
def admin_token(server):
    """The admin user's token (scope all.User)."""
    return server.admin_token


# --------------------------------------------------------------------------
# the browser
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run; each test gets its own context."""
    driver = sync_playwright().start()
    try:
        headless = chromium.launch(driver)
        try:
            yield headless
        finally:
            close_quietly(headless)
    finally:
        driver.stop()


def close_quietly(closable):
    """Closes a context or the browser; one already gone (the run was
    interrupted, and Playwright's driver with it) is no error."""
    try:
        closable.close()
    except PlaywrightError:
        pass


class PageEvents:
    """What a test's pages did that the test did not say it expects.

    Collected for every page of the test, checked when the test body ends:
    - an uncaught exception or unhandled rejection in the page;
    - a console error (which is how Chromium reports a Content-Security-Policy
      violation too), except those allow_console_error() names and Chromium's
      "Failed to load resource" lines, which the responses below cover;
    - a dialog (alert, confirm, prompt) that expect_dialog() did not announce:
      it is dismissed, and the test fails;
    - a response with a 5xx status, and any 4xx for the console's own files
      (API 4xx are answers the console must handle and show);
    - a request that failed outright (aborted ones, as when a page navigates
      away from a fetch, excepted).
    """

    IGNORED_CONSOLE = re.compile(r"^Failed to load resource: the server responded with a status of \d+")

    def __init__(self):
        self.problems = []
        self._allowed = []
        self._dialogs = []
        self.pages = []

    def allow_console_error(self, pattern):
        """Console errors matching `pattern` (a regex, searched) are expected."""
        self._allowed.append(re.compile(pattern))

    def expect_dialog(self, pattern, accept=True):
        """The next dialog whose message matches `pattern` is expected: it is
        accepted (or, accept=False, dismissed). Announce it before the click."""
        self._dialogs.append((re.compile(pattern), accept))

    def watch(self, page):
        self.pages.append(page)
        page.on("pageerror", self._page_error)
        page.on("console", self._console)
        page.on("dialog", self._dialog)
        page.on("response", self._response)
        page.on("requestfailed", self._request_failed)

    def _page_error(self, error):
        frames = [line.strip() for line in (error.stack or "").splitlines() if line.strip().startswith("at ")]
        where = " (%s)" % frames[0] if frames else ""
        self.problems.append("uncaught error in the page: %s: %s%s" % (error.name, error.message, where))

    def _console(self, message):
        if message.type != "error":
            return
        text = message.text
        if self.IGNORED_CONSOLE.search(text) or any(p.search(text) for p in self._allowed):
            return
        self.problems.append("console error: %s (at %s)" % (text, message.location.get("url", "?")))

    def _dialog(self, dialog):
        for index, (pattern, accept) in enumerate(self._dialogs):
            if pattern.search(dialog.message):
                del self._dialogs[index]
                if accept:
                    dialog.accept()
                else:
                    dialog.dismiss()
                return
        self.problems.append("unexpected %s dialog: %r" % (dialog.type, dialog.message))
        dialog.dismiss()

    def _response(self, response):
        path = "/" + response.url.split("/", 3)[-1]
        if response.status >= 500:
            self.problems.append("%d from %s %s" % (response.status, response.request.method, path))
        elif response.status >= 400 and not is_api_path(path):
            self.problems.append("%d for the console's own file %s" % (response.status, path))

    def _request_failed(self, request):
        failure = request.failure or ""
        if "ERR_ABORTED" not in failure:
            self.problems.append("request failed: %s %s (%s)" % (request.method, request.url, failure))

    def check(self):
        """Fails with every problem seen (after letting pending events arrive)."""
        for page in self.pages:
            if not page.is_closed():
                try:
                    page.evaluate("() => new Promise(resolve => setTimeout(resolve, 0))")
                except PlaywrightError:
                    pass  # the page went away meanwhile: nothing more to hear from it
        if self.problems:
            problems, self.problems = self.problems, []
            pytest.fail("the browser saw what the test did not expect:\n  " + "\n  ".join(problems), pytrace=False)


def is_api_path(path):
    """The API's paths, as opposed to the console's files (and the favicon)."""
    return not (path.startswith("/console") or path.startswith("/favicon"))


PAGE_EVENTS = pytest.StashKey()


@pytest.fixture
def page_events(request):
    """The PageEvents of this test's pages."""
    events = PageEvents()
    request.node.stash[PAGE_EVENTS] = events
    return events


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After the test body: anything unexpected its pages did fails the test
    (and when the body failed on its own, the report shows it too)."""
    events = item.stash.get(PAGE_EVENTS, None)
    try:
        result = yield
    except BaseException:
        if events is not None and events.problems:
            sys.stderr.write("the browser also saw:\n  " + "\n  ".join(events.problems) + "\n")
        raise
    if events is not None:
        events.check()
    return result


@pytest.fixture
def new_page(browser, server, page_events):
    """new_page(viewport=DESKTOP, mobile=False): a page in a fresh browser
    context (its own sessionStorage), base URL the server's, every event
    watched; closed after the test."""
    contexts = []

    def _new_page(viewport=DESKTOP, mobile=False):
        context = browser.new_context(
            base_url=server.url,
            viewport=viewport,
            is_mobile=mobile,
            has_touch=mobile,
            locale="en-US",
            timezone_id="UTC",
        )
        contexts.append(context)
        context.set_default_timeout(WAIT_MS)
        context.set_default_navigation_timeout(NAVIGATION_MS)
        page = context.new_page()
        page_events.watch(page)
        return page

    yield _new_page
    for context in contexts:
        close_quietly(context)


@pytest.fixture
def page(new_page):
    """A 1280x800 desktop page."""
    return new_page(DESKTOP)


@pytest.fixture
def phone(new_page):
    """A 390x844 phone page (mobile, touch)."""
    return new_page(PHONE, mobile=True)


# --------------------------------------------------------------------------
# accessibility, screenshots, signing in
# --------------------------------------------------------------------------


def run_axe(page):
    """axe-core's violations on the page as it is now (every impact)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Through the DevTools protocol, so the page's CSP (no inline script) does not apply.
        page.evaluate(AXE_SOURCE)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return results["violations"]


def describe_violation(violation):
    targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
    return "%s (%s): %s; %d element(s): %s" % (
        violation["id"],
        violation["impact"],
        violation["help"],
        len(violation["nodes"]),
        targets,
    )


@pytest.fixture
def axe():
    """axe(page): every axe-core violation on the page as it is; fails the test
    on any serious or critical one."""

    def _axe(page):
        violations = run_axe(page)
        failing = [v for v in violations if v["impact"] in AXE_FAILING]
        assert not failing, "axe-core on %s:\n  %s" % (page.url, "\n  ".join(map(describe_violation, failing)))
        return violations

    return _axe


@pytest.fixture
def screenshot(backend):
    """screenshot(page, name, full_page=True): writes <dir>/<backend>/<name>.png; returns its path."""

    def _screenshot(page, name, full_page=True):
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", name), "screenshot names are lowercase words with dashes: %r" % name
        path = SCREENSHOTS / backend.name / (name + ".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return _screenshot


@pytest.fixture
def sign_in():
    """sign_in(page, token): opens /console/, signs in with `token`, and waits
    until the page offers to sign out."""

    def _sign_in(page, token):
        page.goto("/console/")
        page.get_by_label(SIGN_IN_TOKEN_LABEL).fill(token)
        page.get_by_role("button", name=SIGN_IN_BUTTON).click()
        expect(page.get_by_role("button", name=SIGN_OUT_BUTTON)).to_be_visible()

    return _sign_in
