"""GET /applications/{id}/tokens: sorting, paging, filtering (spec 1.1)."""

import pytest

from conftest import (
    assert_message_names,
    expect_error,
    raw_error,
    unique,
    validate,
)

SORT_FIELDS = ["name", "status", "id", "creationDate", "lastUpdated", "expirationDate"]

# name, status, expirationDate (None = never)
SORT_SET = [
    ("charlie", "active", "2031-01-01T00:00:00.000Z"),
    ("alpha", "inactive", None),
    ("Bravo", "active", "2030-06-01T00:00:00.000Z"),
    ("dup", "active", "2030-06-01T00:00:00.000Z"),
    ("dup", "inactive", None),
    ("DUP", "active", "2031-01-01T00:00:00.000Z"),
    ("delta", "inactive", "2030-01-01T00:00:00.000Z"),
    ("Echo", "active", None),
    ("échelle", "active", "2030-01-01T00:00:00.000Z"),
]


@pytest.fixture(scope="module")
def sort_app(admin):
    app = admin.applications.post(application={"name": unique("sorting")})
    made = []
    for name, status, expires in SORT_SET:
        body = {"name": name, "status": status, "scope": ["device.get"]}
        if expires:
            body["expirationDate"] = expires
        made.append(admin.application_api_tokens.post(applicationId=app["id"], apiToken=body))
    # make lastUpdated differ from creation order: touch the first and the fifth last
    for idx in (0, 4):
        admin.application_api_token.patch(
            applicationId=app["id"], apiTokenId=made[idx]["id"], apiToken={"description": "touched"}
        )
    tokens = admin.application_api_tokens.get(applicationId=app["id"])["items"]
    assert len(tokens) == len(SORT_SET)
    return app, tokens


def sort_key(field):
    if field == "name":
        return lambda t: t["name"].lower()
    if field == "expirationDate":
        # never-expiring tokens sort as if infinitely late
        return lambda t: (0, t["expirationDate"]) if "expirationDate" in t else (1, "")
    return lambda t: t[field]


def expected_order(tokens, field, direction):
    """Sorted by the field, ties broken by id ascending (in either direction)."""
    by_id = sorted(tokens, key=lambda t: t["id"])
    return [t["id"] for t in sorted(by_id, key=sort_key(field), reverse=(direction == "desc"))]


def test_hand_checked_orders(admin, sort_app):
    """The expected orders spelled out, so the reference sort above is itself checked."""
    app, tokens = sort_app
    names = lambda body: [t["name"] for t in body["items"]]  # noqa: E731
    by_id = sorted(tokens, key=lambda t: t["id"])
    dups = [t["name"] for t in by_id if t["name"].lower() == "dup"]  # in id order

    asc = admin.application_api_tokens.get(applicationId=app["id"], sortField="name", sortDirection="asc")
    assert names(asc) == ["alpha", "Bravo", "charlie", "delta"] + dups + ["Echo", "échelle"]

    desc = admin.application_api_tokens.get(applicationId=app["id"], sortField="name", sortDirection="desc")
    assert names(desc) == ["échelle", "Echo"] + dups + ["delta", "charlie", "Bravo", "alpha"]

    exp = admin.application_api_tokens.get(applicationId=app["id"], sortField="expirationDate")
    dates = [t.get("expirationDate") for t in exp["items"]]
    assert dates[:6] == sorted(d for d in dates if d)
    assert dates[6:] == [None, None, None]  # the never-expiring ones last
    exp_desc = admin.application_api_tokens.get(
        applicationId=app["id"], sortField="expirationDate", sortDirection="desc"
    )
    assert [t.get("expirationDate") for t in exp_desc["items"]][:3] == [None, None, None]

    status = admin.application_api_tokens.get(applicationId=app["id"], sortField="status")
    statuses = [t["status"] for t in status["items"]]
    assert statuses == ["active"] * 6 + ["inactive"] * 3


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("field", SORT_FIELDS)
def test_sort_and_walk_pages(admin, sort_app, field, direction):
    app, tokens = sort_app
    want = expected_order(tokens, field, direction)

    full = admin.application_api_tokens.get(applicationId=app["id"], sortField=field, sortDirection=direction)
    validate(full, "apiTokens.json")
    assert [t["id"] for t in full["items"]] == want
    assert full["sortField"] == field
    assert full["sortDirection"] == direction
    assert full["count"] == full["totalCount"] == len(tokens)
    assert full["page"] == 0 and full["perPage"] == 1000

    seen = []
    per_page = 2
    page = 0
    while True:
        body = admin.application_api_tokens.get(
            applicationId=app["id"], sortField=field, sortDirection=direction, perPage=per_page, page=page
        )
        validate(body, "apiTokens.json")
        assert body["page"] == page and body["perPage"] == per_page
        assert body["totalCount"] == len(tokens)
        assert body["count"] == len(body["items"])
        if not body["items"]:
            break
        assert body["count"] == min(per_page, len(tokens) - page * per_page)
        seen += [t["id"] for t in body["items"]]
        page += 1
        assert page < 20
    assert seen == want  # every token once, none repeated, same order
    assert page == -(-len(tokens) // per_page)


def test_direction_is_case_insensitive_and_empty_is_asc(admin, sort_app):
    app, tokens = sort_app
    want_desc = expected_order(tokens, "name", "desc")
    want_asc = expected_order(tokens, "name", "asc")
    for value in ("DESC", "Desc"):
        body = admin.application_api_tokens.get(applicationId=app["id"], sortDirection=value)
        validate(body, "apiTokens.json")
        assert [t["id"] for t in body["items"]] == want_desc
    body = admin.application_api_tokens.get(applicationId=app["id"], sortDirection="ASC")
    assert [t["id"] for t in body["items"]] == want_asc
    body = admin.application_api_tokens.get(applicationId=app["id"], sortDirection="")
    validate(body, "apiTokens.json")
    assert [t["id"] for t in body["items"]] == want_asc


def test_listing_body_shape_and_defaults(admin, sort_app):
    app, tokens = sort_app
    body = admin.application_api_tokens.get(applicationId=app["id"])
    validate(body, "apiTokens.json")
    assert body["sortField"] == "name"
    assert body["sortDirection"] == "asc"
    assert body["page"] == 0
    assert body["perPage"] == 1000
    assert body["applicationId"] == app["id"]
    assert body["ownerId"] == app["id"]
    assert body["ownerType"] == "application"
    assert "filter" not in body and "filterField" not in body
    assert [t["id"] for t in body["items"]] == expected_order(tokens, "name", "asc")
    for t in body["items"]:
        assert t["ownerId"] == app["id"] and t["ownerType"] == "application"
        assert "token" not in t


def test_page_past_the_end(admin, sort_app):
    app, tokens = sort_app
    for page, per_page in (("1", "1000"), ("9", "1"), ("5", "2"), ("9223372036854775807", "1000")):
        body = admin.application_api_tokens.get(applicationId=app["id"], page=page, perPage=per_page)
        validate(body, "apiTokens.json")
        assert body["items"] == []
        assert body["count"] == 0
        assert body["totalCount"] == len(tokens)
        assert body["page"] == int(page)


def test_per_page_bounds(admin, sort_app):
    app, tokens = sort_app
    assert admin.application_api_tokens.get(applicationId=app["id"], perPage="1")["count"] == 1
    assert admin.application_api_tokens.get(applicationId=app["id"], perPage="1000")["count"] == len(tokens)


BAD_PARAMS = [
    ("sortField", "bogus"),
    ("sortField", "description"),
    ("sortField", ""),
    ("sortField", "Name"),
    ("sortDirection", "up"),
    ("sortDirection", "ascending"),
    ("page", "-1"),
    ("page", "abc"),
    ("page", "1.5"),
    ("page", ""),
    ("page", "18446744073709551616"),
    ("page", "0x10"),
    ("perPage", "0"),
    ("perPage", "1001"),
    ("perPage", "-5"),
    ("perPage", "ten"),
    ("perPage", "1e2"),
    ("perPage", "2.0"),
    ("perPage", ""),
    ("filterField", "description"),
    ("filterField", "id"),
]


@pytest.mark.parametrize("param,value", BAD_PARAMS)
def test_bad_parameter_values(admin, sort_app, param, value):
    app, _ = sort_app
    kwargs = {param: value}
    if param == "filterField":
        kwargs["filter"] = "x"
    body = expect_error(400, admin.application_api_tokens.get, applicationId=app["id"], **kwargs)
    assert_message_names(body, param)


def test_bad_parameter_messages_name_accepted_values(admin, sort_app):
    app, _ = sort_app
    body = expect_error(400, admin.application_api_tokens.get, applicationId=app["id"], sortField="bogus")
    assert_message_names(body, "sortField", *SORT_FIELDS)
    body = expect_error(400, admin.application_api_tokens.get, applicationId=app["id"], sortDirection="x")
    assert_message_names(body, "sortDirection", "asc", "desc")
    body = expect_error(400, admin.application_api_tokens.get, applicationId=app["id"], filterField="x", filter="y")
    assert_message_names(body, "filterField", "name", "status")
    body = expect_error(400, admin.application_api_tokens.get, applicationId=app["id"], perPage="1001")
    assert_message_names(body, "perPage", "1", "1000")
    body = expect_error(400, admin.application_api_tokens.get, applicationId=app["id"], page="-1")
    assert_message_names(body, "page", "0")


def test_invalid_filter_field_with_blank_filter_is_still_400(admin, sort_app):
    app, _ = sort_app
    body = expect_error(400, admin.application_api_tokens.get, applicationId=app["id"], filterField="bogus")
    assert_message_names(body, "filterField")
    body = expect_error(
        400, admin.application_api_tokens.get, applicationId=app["id"], filterField="bogus", filter=""
    )
    assert_message_names(body, "filterField")


def test_duplicated_query_parameters_are_400(server, admin, sort_app):
    # the official client cannot send a parameter twice
    app, _ = sort_app
    path = "/applications/%s/tokens" % app["id"]
    for param, values in (("sortField", ["name", "id"]), ("page", ["0", "0"]), ("perPage", ["1", "2"])):
        resp = server.raw("GET", path, token=server.admin_token, params=[(param, v) for v in values])
        body = raw_error(resp, 400)
        assert_message_names(body, param)


def test_client_bookkeeping_params_accepted(server, admin, sort_app):
    app, tokens = sort_app
    body = admin.application_api_tokens.get(
        applicationId=app["id"], _actions="true", _links="false", _embedded="false", losantdomain="example.com"
    )
    assert body["totalCount"] == len(tokens)
    resp = server.raw(
        "GET",
        "/applications/%s/tokens" % app["id"],
        token=server.admin_token,
        headers={"Accept-Version": "^1.31.0", "losantdomain": "example.com"},
    )
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json()["totalCount"] == len(tokens)


# ----------------------------------------------------------------- filtering

FILTER_SET = [
    ("My API Token", "active"),
    ("My API Tokens", "active"),
    ("my token", "inactive"),
    ("MYTOKEN", "active"),
    ("my-other token", "active"),
    ("100%", "active"),
    ("1000", "inactive"),
    ("100x", "active"),
    ("a_b", "active"),
    ("axb", "active"),
    ("what?", "active"),
    ("whatx", "inactive"),
    ("a.b", "active"),
    ("[x]", "active"),
    ("back\\slash", "active"),
    ("ÉCOLE", "active"),
]


@pytest.fixture(scope="module")
def filter_app(admin):
    app = admin.applications.post(application={"name": unique("filtering")})
    for name, status in FILTER_SET:
        admin.application_api_tokens.post(
            applicationId=app["id"], apiToken={"name": name, "status": status, "scope": ["device.get"]}
        )
    return app


ALL_NAMES = sorted((n for n, _ in FILTER_SET), key=str.lower)


@pytest.mark.parametrize(
    "pattern,expected",
    [
        ("my*token", ["my token", "My API Token", "my-other token", "MYTOKEN"]),
        ("MY*TOKEN", ["my token", "My API Token", "my-other token", "MYTOKEN"]),
        ("my api token", ["My API Token"]),
        ("my api token*", ["My API Token", "My API Tokens"]),
        ("*token", ["my token", "My API Token", "my-other token", "MYTOKEN"]),
        ("token", []),
        ("my", []),
        ("100%", ["100%"]),
        ("%", []),
        ("100_", []),
        ("a_b", ["a_b"]),
        ("_", []),
        ("what?", ["what?"]),
        ("wha??", []),
        ("?", []),
        ("a.b", ["a.b"]),
        ("[x]", ["[x]"]),
        ("a[._]b", []),
        ("back\\slash", ["back\\slash"]),
        ("école", ["ÉCOLE"]),
        ("*100*", ["100%", "1000", "100x"]),
        # the same after a `*`, where no literal prefix narrows the candidates
        ("*hat?", ["what?"]),
        ("*_b", ["a_b"]),
        ("*%", ["100%"]),
        ("*0%", ["100%"]),
        ("*.b", ["a.b"]),
        ("*\\slash", ["back\\slash"]),
        ("*cole", ["ÉCOLE"]),
        ("*", ALL_NAMES),
        ("**", ALL_NAMES),
    ],
)
def test_name_glob(admin, filter_app, pattern, expected):
    body = admin.application_api_tokens.get(applicationId=filter_app["id"], filterField="name", filter=pattern)
    validate(body, "apiTokens.json")
    assert [t["name"] for t in body["items"]] == sorted(expected, key=str.lower)
    assert body["totalCount"] == len(expected)
    assert body["count"] == len(expected)
    assert body["filter"] == pattern
    assert body["filterField"] == "name"


@pytest.mark.parametrize(
    "pattern,status",
    [("inactive", "inactive"), ("INACTIVE", "inactive"), ("active", "active"), ("act*", "active"), ("*active", None)],
)
def test_status_filter(admin, filter_app, pattern, status):
    body = admin.application_api_tokens.get(applicationId=filter_app["id"], filterField="status", filter=pattern)
    validate(body, "apiTokens.json")
    expected = [n for n in ALL_NAMES if status is None or dict(FILTER_SET)[n] == status]
    assert [t["name"] for t in body["items"]] == expected
    assert body["totalCount"] == len(expected)
    assert body["filterField"] == "status"
    assert body["filter"] == pattern


@pytest.mark.parametrize(
    "params",
    [
        {"filterField": "name", "filter": ""},
        {"filterField": "name", "filter": "   "},
        {"filterField": "name"},
        {"filter": "my*token"},
        {"filterField": "", "filter": "my*token"},
        {"filterField": "", "filter": ""},
        {"filterField": "status", "filter": ""},
    ],
)
def test_blank_filter_means_no_filtering(admin, filter_app, params):
    body = admin.application_api_tokens.get(applicationId=filter_app["id"], **params)
    validate(body, "apiTokens.json")
    assert [t["name"] for t in body["items"]] == ALL_NAMES
    assert body["totalCount"] == len(ALL_NAMES)
    assert "filter" not in body and "filterField" not in body


def test_filter_with_paging(admin, filter_app):
    expected = ["My API Token", "my token", "my-other token", "MYTOKEN"]  # case-insensitive order
    seen = []
    for page in range(3):
        body = admin.application_api_tokens.get(
            applicationId=filter_app["id"], filterField="name", filter="my*token", perPage=3, page=page
        )
        assert body["totalCount"] == 4
        assert body["count"] == len(body["items"])
        seen += [t["name"] for t in body["items"]]
    assert seen == expected
    # filtered + sorted the other way
    body = admin.application_api_tokens.get(
        applicationId=filter_app["id"], filterField="name", filter="my*token", sortDirection="desc"
    )
    assert [t["name"] for t in body["items"]] == list(reversed(expected))


def test_raw_query_string_glob_is_literal(server, filter_app):
    """Percent-encoded `%` and `_` reach the server as themselves and stay literal."""
    resp = server.raw(
        "GET",
        "/applications/%s/tokens?filterField=name&filter=100%%25" % filter_app["id"],
        token=server.admin_token,
    )
    assert resp.status_code == 200
    assert [t["name"] for t in resp.json()["items"]] == ["100%"]
    # and requests' own encoding of the same
    resp = server.raw(
        "GET",
        "/applications/%s/tokens" % filter_app["id"],
        token=server.admin_token,
        params={"filterField": "name", "filter": "a_b"},
    )
    assert [t["name"] for t in resp.json()["items"]] == ["a_b"]
