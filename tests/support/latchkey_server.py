"""A real `latchkey serve` for the Python suites (tests/compat, tests/console).

Shared by the suites' conftest.py files, which put this folder on sys.path
and import it as `latchkey_server`. It runs the BUILT binary (LATCHKEY_BIN;
falls back to target/debug/latchkey of this repository) on each storage
backend:

- `sqlite`, always: a fresh SQLite file in a temporary directory;
- `postgres`, when LATCHKEY_TEST_POSTGRES_URL is set (scripts/test.sh starts
  a throwaway PostgreSQL and sets it): the database that URL names, used as
  it is and possibly used before (by an earlier run, or another suite). The
  server prints an admin token only on the first start of a database; when
  it prints none, one is minted with `latchkey admin-token`. So no test may
  assume the database is empty.

With LATCHKEY_TEST_REQUIRE_POSTGRES=1 (scripts/test.sh sets it whenever it
runs PostgreSQL) `check_required_postgres()` stops the run with an error,
instead of quietly running on SQLite alone, when LATCHKEY_TEST_POSTGRES_URL
is unset or its server does not answer.

Nothing here needs more than the standard library and pytest.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]

ID_RE = re.compile(r"^[a-f0-9]{24}$")

STARTUP_TIMEOUT = 30.0
PSQL_TIMEOUT = 60

POSTGRES_URL = os.environ.get("LATCHKEY_TEST_POSTGRES_URL", "").strip()
REQUIRE_POSTGRES = os.environ.get("LATCHKEY_TEST_REQUIRE_POSTGRES", "").strip() == "1"
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])


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

# A log line at WARN or ERROR, in the text format or the JSON one.
LOUD_LOG_LINE = re.compile(r'^\S+\s+(WARN|ERROR)\s|"level":\s*"(WARN|ERROR)"')


def assert_clean_exit(srv):
    """After `srv.stop()`: SIGTERM ended the server with status 0, and it never
    logged at WARN or ERROR."""
    assert srv.proc.returncode == 0, "latchkey exited with %s after SIGTERM:\n%s" % (srv.proc.returncode, srv.log())
    with srv._cond:
        loud = [line for line in srv.lines if LOUD_LOG_LINE.search(line)]
    assert not loud, "latchkey logged warnings or errors:\n" + "\n".join(loud[-20:])


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

    def start_shared_server(self, binary, server_class=None):
        """The session's server: a fresh SQLite file; or the PostgreSQL URL as it is.
        server_class: Server or a subclass of it (a suite's, with its own helpers)."""
        server_class = server_class or Server
        workdir = self._tmp.mktemp("latchkey-" + self.name)
        if self.name == "sqlite":
            return server_class(binary, workdir)
        return server_class(binary, workdir, db_url=POSTGRES_URL, fresh=None)

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


def check_required_postgres():
    """A run that asked for PostgreSQL gets it, or stops here (call it from a
    conftest's pytest_configure)."""
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


def assert_server_survived(srv):
    """The server is still running and never panicked."""
    assert srv.alive(), "the server died:\n" + srv.log()
    with srv._cond:
        panics = [line for line in srv.lines if "panicked" in line]
    assert not panics, "the server panicked:\n" + "\n".join(panics)


# --------------------------------------------------------------------------
# fixtures: a conftest imports them by name to use them
# --------------------------------------------------------------------------


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


def server_fixture(server_class=None):
    """The session's `server` fixture, of `server_class` (Server or a suite's
    subclass): one server per backend, which must exit cleanly at the end."""

    @pytest.fixture(scope="session")
    def server(backend, latchkey_bin):
        srv = backend.start_shared_server(latchkey_bin, server_class)
        try:
            yield srv
        finally:
            srv.stop()
            assert_clean_exit(srv)

    return server


@pytest.fixture(autouse=True)
def _server_survives(request):
    """Nothing a test does may crash the server."""
    yield
    if "server" in request.fixturenames:
        assert_server_survived(request.getfixturevalue("server"))
