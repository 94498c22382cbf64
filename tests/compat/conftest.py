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

The server process, the backends and the fixtures `latchkey_bin` and
`backend` are tests/support/latchkey_server.py, shared with the console suite
(tests/console); this file adds the official client and the helpers above.
"""

import base64
import json
import os
import re
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest
import requests
from losant_rest import Client, LosantError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import latchkey_server  # noqa: E402  (tests/support, put on the path just above)
from latchkey_server import (  # noqa: E402,F401  (fixtures and names the tests import from here)
    ID_RE,
    REPO,
    _server_survives,
    assert_clean_exit,
    backend,
    latchkey_bin,
)

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

HTTP_TIMEOUT = 15.0


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
# the server process and the storage backends: tests/support/latchkey_server.py
# --------------------------------------------------------------------------


class Server(latchkey_server.Server):
    """One `latchkey serve [args]` (see latchkey_server.Server), with the
    official client and plain `requests` calls pointed at it."""

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


def raw_error(resp, status):
    """Check a raw `requests` response is the error `status` with a proper body."""
    assert resp.status_code == status, "expected %d, got %d %s" % (status, resp.status_code, resp.text[:300])
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    return check_error_body(resp.json(), status)


def pytest_configure(config):
    latchkey_server.check_required_postgres()


server = latchkey_server.server_fixture(Server)


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
