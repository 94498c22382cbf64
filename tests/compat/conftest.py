"""Fixtures of the compatibility suite.

The suite runs the BUILT `latchkey` binary (path in the environment variable
LATCHKEY_BIN; falls back to target/debug/latchkey of this repository) and
drives it over loopback HTTP through Losant's official Python client
`losant-rest` (module `losant_rest`). `requests` is used directly only for
what the official client cannot express.

Every test that uses the server runs once per storage backend (the `backend`
fixture; the test id names it, e.g. `test_x[sqlite]`):

- `sqlite`, always: a fresh SQLite file in a temporary directory;
- `postgres`, when LATCHKEY_TEST_POSTGRES_URL is set (scripts/test.sh starts
  a throwaway PostgreSQL and sets it): the database that URL names, used as
  it is and possibly used before (by an earlier run, or another suite). The
  server prints an admin token only on the first start of a database; when
  it prints none, the suite mints one with `latchkey admin-token`. So no test
  may assume the database is empty: each makes its own applications, users
  and organizations (unique names) and counts only within them.

With LATCHKEY_TEST_REQUIRE_POSTGRES=1 (scripts/test.sh sets it whenever it
runs PostgreSQL) the run stops with an error, instead of quietly running on
SQLite alone, when LATCHKEY_TEST_POSTGRES_URL is unset or its server does not
answer.

The few tests that need a database of their own (a first start, a restart)
get a fresh one from `backend.fresh_database()`: a new SQLite file, or a new
PostgreSQL database made with `psql` (from LATCHKEY_TEST_POSTGRES_BINDIR, else
PATH) and dropped afterwards.
"""

import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import requests
from losant_rest import Client, LosantError

REPO = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = REPO / "schemas"
SCOPES_FILE = REPO / "spec" / "scopes.json"

ERROR_TYPES = {
    400: "Validation",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    429: "TooManyRequests",
}

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ID_RE = re.compile(r"^[a-f0-9]{24}$")

STARTUP_TIMEOUT = 30.0
HTTP_TIMEOUT = 15.0
PSQL_TIMEOUT = 60

POSTGRES_URL = os.environ.get("LATCHKEY_TEST_POSTGRES_URL", "").strip()
REQUIRE_POSTGRES = os.environ.get("LATCHKEY_TEST_REQUIRE_POSTGRES", "").strip() == "1"
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])


# --------------------------------------------------------------------------
# small helpers usable from every test module (import from conftest)
# --------------------------------------------------------------------------


def load_schema(name):
    with open(SCHEMAS_DIR / name, encoding="utf-8") as f:
        return json.load(f)


_VALIDATORS = {}


def validate(instance, schema_name):
    """Validate `instance` against schemas/<schema_name> (draft 7)."""
    if schema_name not in _VALIDATORS:
        schema = load_schema(schema_name)
        _VALIDATORS[schema_name] = jsonschema.Draft7Validator(schema)
    errors = sorted(_VALIDATORS[schema_name].iter_errors(instance), key=str)
    assert not errors, "%s does not match %s: %s" % (
        json.dumps(instance)[:500],
        schema_name,
        "; ".join(e.message for e in errors),
    )


def load_scopes():
    with open(SCOPES_FILE, encoding="utf-8") as f:
        return json.load(f)


def assert_date(value):
    """A date on the wire: UTC ISO-8601 with milliseconds."""
    assert isinstance(value, str) and DATE_RE.match(value), "bad date %r" % (value,)
    return parse_date(value)


def parse_date(value):
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def fmt_date(dt):
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def future(seconds):
    return fmt_date(datetime.now(timezone.utc) + timedelta(seconds=seconds))


def random_id():
    """A well-formed id that (overwhelmingly likely) names nothing."""
    return os.urandom(12).hex()


def unique(prefix="x"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt_parts(token):
    header, payload, signature = token.split(".")
    return (
        json.loads(b64url_decode(header)),
        json.loads(b64url_decode(payload)),
        b64url_decode(signature),
    )


def check_error_body(body, status):
    """Every error is {"type", "message"} (schemas/error.json) with the type of its status."""
    assert isinstance(body, dict), "error body is not a JSON object: %r" % (body,)
    validate(body, "error.json")
    assert set(body) == {"type", "message"}, "error body has keys %s" % sorted(body)
    assert body["type"] == ERROR_TYPES[status], body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    return body


def expect_error(status, fn, *args, **kwargs):
    """Call an official-client method; it must raise LosantError with `status`.

    Returns the error body (already checked against schemas/error.json)."""
    try:
        result = fn(*args, **kwargs)
    except LosantError as e:
        assert e.status == status, "expected %d, got %d %r" % (status, e.status, e.data)
        return check_error_body(e.data, status)
    raise AssertionError("expected %d, got success: %r" % (status, result))


def eventually(fn, timeout=2.0, interval=0.05):
    """Call fn until it stops raising (bounded); return its result or re-raise the last error."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except (AssertionError, LosantError):
            if time.monotonic() >= deadline:
                raise
        time.sleep(interval)


def assert_message_names(body, *words):
    for word in words:
        assert word.lower() in body["message"].lower(), "%r does not name %r" % (body["message"], word)


# --------------------------------------------------------------------------
# the server process
# --------------------------------------------------------------------------


def find_binary():
    path = os.environ.get("LATCHKEY_BIN")
    if not path:
        candidate = REPO / "target" / "debug" / "latchkey"
        if candidate.exists():
            path = str(candidate)
    if not path or not os.access(path, os.X_OK):
        pytest.exit(
            "set LATCHKEY_BIN to the built latchkey binary (cargo build; target/debug/latchkey)",
            returncode=2,
        )
    return os.path.abspath(path)


def child_env(extra=None):
    env = dict(os.environ)
    for key in ("LATCHKEY_LISTEN", "LATCHKEY_DATABASE", "LATCHKEY_URL", "LATCHKEY_TOKEN"):
        env.pop(key, None)
    env.setdefault("NO_COLOR", "1")
    if extra:
        env.update(extra)
    return env


class Server:
    """One `latchkey serve [args]`: on the SQLite file `latchkey.db` in `workdir`, or on `db_url`."""

    def __init__(self, binary, workdir, env=None, fresh=True, db_url=None, args=()):
        """fresh: True, the database is new, so the server must print its admin token;
        False, it is not, so the server prints none (the test checks that);
        None, unknown (a shared database): when it prints none, one is minted."""
        self.binary = binary
        self.fresh = fresh
        self.workdir = Path(workdir)
        if db_url is None:
            self.db_path = self.workdir / "latchkey.db"
            self.db_url = "sqlite://" + str(self.db_path)  # absolute path: sqlite:///...
        else:
            self.db_path = None  # a server-backed database has no file here
            self.db_url = db_url
        self.admin_token_minted = False
        self.lines = []
        self.url = None
        self.admin_token = None
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--database", self.db_url, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=str(self.workdir),
            env=child_env(env),
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        self._wait_ready()
        if self.fresh is None and self.admin_token is None:
            # A database set up before: the token line (printed before the
            # address) did not come, so mint one as the README says.
            self.admin_token = self.user_token()
            self.admin_token_minted = True

    def _read_stderr(self):
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                m = re.search(r"latchkey: admin token: (\S+)", line)
                if m and self.admin_token is None:
                    self.admin_token = m.group(1)
                m = re.search(r"latchkey: listening on (http://127\.0\.0\.1:\d+)", line)
                if m and self.url is None:
                    self.url = m.group(1)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _wait_ready(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT
        with self._cond:
            while self.url is None or (self.fresh is True and self.admin_token is None):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(
                        "latchkey did not start (want 'admin token:' and 'listening on' on stderr):\n"
                        + self.log()
                    )
                self._cond.wait(min(remaining, 0.1))

    def log(self):
        with self._cond:
            return "\n".join(self.lines[-200:])

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        """SIGKILL: no chance to flush anything."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reader.join(timeout=5)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._reader.join(timeout=5)

    # -- the admin CLI on the same database --------------------------------

    def cli(self, *args):
        result = subprocess.run(
            [self.binary, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=str(self.workdir),
            env=child_env(),
        )
        assert result.returncode == 0, "latchkey %s failed (%d): %s" % (
            " ".join(args),
            result.returncode,
            result.stderr,
        )
        return result.stdout.strip()

    def create_user(self, name):
        user_id = self.cli("admin", "user", "create", "--database", self.db_url, "--name", name)
        assert ID_RE.match(user_id), user_id
        return user_id

    def create_org(self, name, *members):
        args = ["admin", "org", "create", "--database", self.db_url, "--name", name]
        for member in members:
            args += ["--member", member]
        org_id = self.cli(*args)
        assert ID_RE.match(org_id), org_id
        return org_id

    def user_token(self, user="admin", scopes=(), expires=None):
        args = ["admin-token", "--database", self.db_url, "--user", user]
        for scope in scopes:
            args += ["--scope", scope]
        if expires:
            args += ["--expires", expires]
        token = self.cli(*args)
        assert token.count(".") == 2 and "\n" not in token, token
        return token

    # -- HTTP ---------------------------------------------------------------

    def client(self, token):
        """The official client, pointed at this server."""
        return Client(auth_token=token, url=self.url)

    def raw(self, method, path, token=None, headers=None, **kwargs):
        """A plain `requests` call, for what the official client cannot express."""
        h = {"Accept": "application/json"}
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if headers:
            h.update(headers)
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        resp = requests.request(method, self.url + path, headers=h, **kwargs)
        assert resp.status_code < 500, "%s %s -> %d %s" % (method, path, resp.status_code, resp.text[:300])
        return resp


# A log line at WARN or ERROR, in the text format or the JSON one.
LOUD_LOG_LINE = re.compile(r'^\S+\s+(WARN|ERROR)\s|"level":\s*"(WARN|ERROR)"')


def assert_clean_exit(srv):
    """After `srv.stop()`: SIGTERM ended the server with status 0, and it never
    logged at WARN or ERROR."""
    assert srv.proc.returncode == 0, "latchkey exited with %s after SIGTERM:\n%s" % (srv.proc.returncode, srv.log())
    with srv._cond:
        loud = [line for line in srv.lines if LOUD_LOG_LINE.search(line)]
    assert not loud, "latchkey logged warnings or errors:\n" + "\n".join(loud[-20:])


def raw_error(resp, status):
    """Check a raw `requests` response is the error `status` with a proper body."""
    assert resp.status_code == status, "expected %d, got %d %s" % (status, resp.status_code, resp.text[:300])
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    return check_error_body(resp.json(), status)


# --------------------------------------------------------------------------
# storage backends
# --------------------------------------------------------------------------


def _pg_program(name):
    bindir = os.environ.get("LATCHKEY_TEST_POSTGRES_BINDIR", "")
    if bindir and os.access(os.path.join(bindir, name), os.X_OK):
        return os.path.join(bindir, name)
    return name  # from PATH, if anywhere


def _pg_env():
    return dict(os.environ, PGCONNECT_TIMEOUT="10")


def _psql(url, sql):
    """One SQL command with psql against the database `url` names; raises on failure."""
    try:
        result = subprocess.run(
            [_pg_program("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PSQL_TIMEOUT,
            env=_pg_env(),
        )
    except OSError as e:
        raise RuntimeError("psql does not run (%s); set LATCHKEY_TEST_POSTGRES_BINDIR" % e) from e
    if result.returncode != 0:
        raise RuntimeError("psql -c %r failed (%d): %s" % (sql, result.returncode, result.stderr.strip()))


def _with_database(url, name):
    """`url` naming the database `name` instead (same server, user and parameters)."""
    return urlsplit(url)._replace(path="/" + name).geturl()


class Backend:
    """A storage backend: `sqlite`, or `postgres` on the server LATCHKEY_TEST_POSTGRES_URL names."""

    def __init__(self, name, tmp_path_factory):
        self.name = name
        self._tmp = tmp_path_factory
        self._made = []  # PostgreSQL databases made, dropped at the end

    def __repr__(self):
        return "Backend(%s)" % self.name

    def start_shared_server(self, binary):
        """The session's server: a fresh SQLite file; or the PostgreSQL URL as it is."""
        workdir = self._tmp.mktemp("latchkey-" + self.name)
        if self.name == "sqlite":
            return Server(binary, workdir)
        return Server(binary, workdir, db_url=POSTGRES_URL, fresh=None)

    def fresh_database(self):
        """(db_url or None, fresh): a new, empty database. None for SQLite (the
        Server makes `latchkey.db` in its workdir). For PostgreSQL a new database on
        the server; when that cannot be made, (POSTGRES_URL, None): the shared one."""
        if self.name == "sqlite":
            return None, True
        try:
            return self.new_postgres_database(), True
        except RuntimeError as e:
            sys.stderr.write("no fresh PostgreSQL database (%s); using the shared one\n" % e)
            return POSTGRES_URL, None

    def new_postgres_database(self):
        """A new, empty PostgreSQL database on the server, dropped at the end of the session."""
        name = "latchkey_c%d_%s" % (os.getpid(), uuid.uuid4().hex[:8])
        _psql(POSTGRES_URL, 'CREATE DATABASE "%s" TEMPLATE template0' % name)
        self._made.append(name)
        return _with_database(POSTGRES_URL, name)

    def dump(self, db_url):
        """A PostgreSQL database's contents as pg_dump prints them (bytes), or None
        when pg_dump is not at hand."""
        try:
            result = subprocess.run(
                [_pg_program("pg_dump"), "--no-owner", "-d", db_url],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=PSQL_TIMEOUT,
                env=_pg_env(),
            )
        except OSError:
            return None
        assert result.returncode == 0, "pg_dump failed: %s" % result.stderr.decode(errors="replace")
        return result.stdout

    def close(self):
        for name in self._made:
            try:
                _psql(POSTGRES_URL, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
            except RuntimeError as e:
                sys.stderr.write("the test database %s was not dropped: %s\n" % (name, e))
        self._made.clear()


def pytest_configure(config):
    """A run that asked for PostgreSQL gets it, or stops here."""
    if not REQUIRE_POSTGRES:
        return
    if not POSTGRES_URL:
        raise pytest.UsageError(
            "LATCHKEY_TEST_REQUIRE_POSTGRES=1 asks for PostgreSQL, but LATCHKEY_TEST_POSTGRES_URL is not set"
        )
    try:
        _psql(POSTGRES_URL, "SELECT 1")
    except RuntimeError as e:
        raise pytest.UsageError("LATCHKEY_TEST_REQUIRE_POSTGRES=1, but PostgreSQL does not answer: %s" % e) from e


@pytest.fixture(scope="session")
def latchkey_bin():
    return find_binary()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request, tmp_path_factory):
    """The storage backend this run of the test is on (the test id names it)."""
    b = Backend(request.param, tmp_path_factory)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="session")
def server(backend, latchkey_bin):
    srv = backend.start_shared_server(latchkey_bin)
    try:
        yield srv
    finally:
        srv.stop()
        assert_clean_exit(srv)


@pytest.fixture(autouse=True)
def _server_survives(request):
    """Nothing a test sends may crash the server."""
    yield
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        assert srv.alive(), "the server died:\n" + srv.log()
        with srv._cond:
            panics = [line for line in srv.lines if "panicked" in line]
        assert not panics, "the server panicked:\n" + "\n".join(panics)


@pytest.fixture(scope="session")
def admin(server):
    """The official client holding the admin user token printed at first start
    (or, on a shared database started before, minted with `latchkey admin-token`)."""
    return server.client(server.admin_token)


@pytest.fixture(scope="session")
def admin_record(admin):
    """The admin token's own record (introspect)."""
    return admin.request("GET", "/auth/introspect")


@pytest.fixture
def app(admin):
    """A fresh application owned by the admin user."""
    return admin.applications.post(application={"name": unique("app")})


@pytest.fixture
def mint(admin):
    """mint(app_id, scope=None, **fields) -> the created token (with `token`), via the admin user."""

    def _mint(app_id, scope=None, **fields):
        body = {"name": fields.pop("name", unique("tok"))}
        if scope is not None:
            body["scope"] = list(scope)
        body.update(fields)
        return admin.application_api_tokens.post(applicationId=app_id, apiToken=body)

    return _mint
