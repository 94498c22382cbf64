"""lastUsed through the official client: a used token shows it, a never-used
one does not; sortField=lastUsed (never-used first ascending, last
descending) and lastUsedBefore. The client's get() has no lastUsedBefore
argument, so that goes through its generic request(), still the official
client."""

import pytest

from conftest import (
    Server,
    assert_clean_exit,
    assert_date,
    assert_message_names,
    eventually,
    expect_error,
    validate,
)


@pytest.fixture
def quick(backend, latchkey_bin, tmp_path):
    """A server of its own that writes last uses every 100 ms."""
    db_url, fresh = backend.fresh_database()
    srv = Server(latchkey_bin, tmp_path, fresh=fresh, db_url=db_url, args=("--last-use-flush-ms", "100"))
    try:
        yield srv
    finally:
        srv.stop()
    assert_clean_exit(srv)


def millis(date):
    return round(assert_date(date).timestamp() * 1000)


def test_last_used_sorts_and_filters(quick):
    admin = quick.client(quick.admin_token)
    app = admin.applications.post(application={"name": "last use"})["id"]
    post = admin.application_api_tokens.post
    used = post(applicationId=app, apiToken={"name": "used", "scope": ["applicationApiTokens.get"]})
    unused = post(applicationId=app, apiToken={"name": "unused"})
    assert "lastUsed" not in used and "lastUsed" not in unused, "never used yet"

    # The used token lists its own application's tokens: one use.
    quick.client(used["token"]).application_api_tokens.get(applicationId=app)

    def shows_the_use():
        token = admin.application_api_token.get(applicationId=app, apiTokenId=used["id"])
        assert "lastUsed" in token, token
        return token

    token = eventually(shows_the_use, timeout=10.0)
    validate(token, "apiToken.json")
    at = millis(token["lastUsed"])
    assert "lastUsed" not in admin.application_api_token.get(applicationId=app, apiTokenId=unused["id"])

    def names(body):
        return [t["name"] for t in body["items"]]

    get = admin.application_api_tokens.get
    assert names(get(applicationId=app, sortField="lastUsed")) == ["unused", "used"]
    assert names(get(applicationId=app, sortField="lastUsed", sortDirection="desc")) == ["used", "unused"]

    path = "/applications/%s/tokens" % app
    before = admin.request("GET", path, params={"lastUsedBefore": str(at)})
    assert (names(before), before["totalCount"]) == (["unused"], 1), "never-used included, the use is not before"
    after = admin.request("GET", path, params={"lastUsedBefore": str(at + 1), "sortField": "lastUsed"})
    assert (names(after), after["totalCount"]) == (["unused", "used"], 2)

    for bad in ("yesterday", "-1", "1.5"):
        body = expect_error(400, admin.request, "GET", path, params={"lastUsedBefore": bad})
        assert_message_names(body, "lastUsedBefore")
