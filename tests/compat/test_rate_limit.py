"""Rate limits (spec 2): a configured limit answers 429 with Retry-After; the
defaults never refuse a token making under 100 requests a second."""

import time

import requests

from conftest import HTTP_TIMEOUT, Server, assert_clean_exit, expect_error, raw_error

LIMIT = 2  # requests per second per token, with an equal burst; one more every 500 ms


def test_a_configured_limit_answers_429_with_retry_after(backend, latchkey_bin, tmp_path):
    db_url, fresh = backend.fresh_database()
    limited = Server(latchkey_bin, tmp_path, fresh=fresh, db_url=db_url, args=("--rate-limit", str(LIMIT)))
    try:
        if limited.admin_token is None:
            limited.admin_token = limited.user_token()
        client = limited.client(limited.admin_token)
        # The burst is allowed; the next quick request is over the limit.
        for _ in range(LIMIT):
            client.request("GET", "/auth/introspect")
        body = expect_error(429, client.request, "GET", "/auth/introspect")
        resp = limited.raw("GET", "/auth/introspect", token=limited.admin_token)
        raw_error(resp, 429)
        assert int(resp.headers["Retry-After"]) >= 1, resp.headers
        # The limit is per token: another token is still answered.
        other = limited.client(limited.user_token())
        assert other.request("GET", "/auth/introspect")["active"] is True
    finally:
        limited.stop()
    assert_clean_exit(limited)


def test_the_defaults_never_refuse_a_token_under_100_requests_a_second(server):
    """150 requests paced over 2 s (75 a second), on the default settings."""
    count, seconds = 150, 2.0
    statuses = []
    with requests.Session() as session:
        session.headers.update({"Authorization": "Bearer " + server.admin_token, "Accept": "application/json"})
        start = time.monotonic()
        for i in range(count):
            time.sleep(max(0.0, start + i * seconds / count - time.monotonic()))
            statuses.append(session.get(server.url + "/auth/introspect", timeout=HTTP_TIMEOUT).status_code)
    assert statuses == [200] * count, "refused: %r" % [s for s in statuses if s != 200]
