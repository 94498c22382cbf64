"""Every error path of the spec (section 2) and the order of its checks."""

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conftest import (
    assert_message_names,
    check_error_body,
    b64url_encode,
    expect_error,
    future,
    jwt_parts,
    random_id,
    raw_error,
    unique,
)

BAD_IDS = ["xyz", "0" * 23, "0" * 25, "g" * 24, "5" * 23 + "-", "%20" + "a" * 21, "%ff" + "a" * 21, "a" * 24 + "%00"]


# ------------------------------------------------------------------ 400: ids


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_application_id(admin, bad):
    for call in (
        lambda: admin.application_api_tokens.get(applicationId=bad),
        lambda: admin.application_api_tokens.post(applicationId=bad, apiToken={"name": "x"}),
        lambda: admin.application.get(applicationId=bad),
        lambda: admin.application_api_token.get(applicationId=bad, apiTokenId=random_id()),
    ):
        body = expect_error(400, call)
        assert_message_names(body, "applicationId")


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_token_id(admin, app, bad):
    for call in (
        lambda: admin.application_api_token.get(applicationId=app["id"], apiTokenId=bad),
        lambda: admin.application_api_token.patch(applicationId=app["id"], apiTokenId=bad, apiToken={"name": "x"}),
        lambda: admin.application_api_token.delete(applicationId=app["id"], apiTokenId=bad),
    ):
        body = expect_error(400, call)
        assert_message_names(body, "apiTokenId")


# ----------------------------------------------------------------- 400: bodies

BAD_POST_BODIES = [
    ({"name": "x", "bogus": 1}, "bogus"),
    ({"name": "x", "token": "abc"}, "token"),
    ({"name": "x", "id": "0" * 24}, "id"),
    ({}, "name"),
    ({"description": "no name"}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 256}, "name"),
    ({"name": "é" * 256}, "name"),
    ({"name": 42}, "name"),
    ({"name": None}, "name"),
    ({"name": "x", "description": "d" * 32768}, "description"),
    ({"name": "x", "description": 7}, "description"),
    ({"name": "x", "scope": []}, "scope"),
    ({"name": "x", "scope": ["device.get", "device.get"]}, "scope"),
    ({"name": "x", "scope": ["no.suchScope"]}, "scope"),
    ({"name": "x", "scope": ["all.User"]}, "scope"),  # a user scope, not an application one
    ({"name": "x", "scope": ["all.Organization"]}, "scope"),
    ({"name": "x", "scope": ["All.Application"]}, "scope"),
    ({"name": "x", "scope": "all.Application"}, "scope"),
    ({"name": "x", "scope": [1]}, "scope"),
    ({"name": "x", "status": "paused"}, "status"),
    ({"name": "x", "status": "ACTIVE"}, "status"),
    ({"name": "x", "expirationDate": "2001-01-01T00:00:00.000Z"}, "expirationDate"),
    ({"name": "x", "expirationDate": "yesterday"}, "expirationDate"),
    ({"name": "x", "expirationDate": "2099-01-01"}, "expirationDate"),
    ({"name": "x", "expirationDate": "2099-13-01T00:00:00Z"}, "expirationDate"),
    ({"name": "x", "expirationDate": 4102444800000}, "expirationDate"),
]


@pytest.mark.parametrize("body,word", BAD_POST_BODIES)
def test_bad_post_bodies(admin, app, body, word):
    err = expect_error(400, admin.application_api_tokens.post, applicationId=app["id"], apiToken=body)
    assert_message_names(err, word)


def test_bad_post_bodies_created_nothing(admin, app):
    for body, _ in BAD_POST_BODIES:
        expect_error(400, admin.application_api_tokens.post, applicationId=app["id"], apiToken=body)
    assert admin.application_api_tokens.get(applicationId=app["id"])["totalCount"] == 0


def test_expiration_just_past_is_refused(admin, app):
    err = expect_error(
        400,
        admin.application_api_tokens.post,
        applicationId=app["id"],
        apiToken={"name": "x", "expirationDate": future(-1)},
    )
    assert_message_names(err, "expirationDate")


def test_a_token_pasted_in_the_wrong_place_is_not_echoed(admin, app, mint):
    secret = mint(app["id"])["token"]
    signature = secret.split(".")[2]
    tokens = admin.application_api_tokens

    def post(body):
        return lambda: tokens.post(applicationId=app["id"], apiToken=body)

    calls = [
        (post({"name": "x", "scope": [secret]}), "scope"),
        (post({"name": "x", secret: 1}), "property"),
        (lambda: admin.applications.post(application={"name": "x", "orgId": secret}), "orgId"),
        (lambda: tokens.get(applicationId=app["id"], sortField=secret), "sortField"),
        (lambda: tokens.get(applicationId=secret), "applicationId"),
    ]
    for call, field in calls:
        err = expect_error(400, call)
        assert_message_names(err, field)
        assert signature not in json.dumps(err), err
    err = expect_error(400, calls[0][0])
    assert "(a value of %d characters, not shown)" % len(secret) in err["message"], err


@pytest.mark.parametrize("body", [[{"name": "x"}], "name", 5, None, True])
def test_post_body_not_an_object_via_client(admin, app, body):
    # None: the official client then sends no body at all
    expect_error(400, admin.application_api_tokens.post, applicationId=app["id"], apiToken=body)


NOT_OBJECTS = [
    ("", "application/json"),
    ("{", "application/json"),
    ("{\"name\": \"x\",}", "application/json"),
    ("name=x", "application/x-www-form-urlencoded"),
    ("name=x", None),
    ("[1, 2]", "application/json"),
    ("\"str\"", "application/json"),
    ("null", "application/json"),
    ("{\"name\": \"x\"} trailing", "application/json"),
    ("\xff\xfe", "application/json"),
]


@pytest.mark.parametrize("data,ctype", NOT_OBJECTS)
def test_post_body_not_a_json_object_raw(server, app, data, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    resp = server.raw(
        "POST",
        "/applications/%s/tokens" % app["id"],
        token=server.admin_token,
        headers=headers,
        data=data.encode("latin-1") if data else b"",
    )
    raw_error(resp, 400)


@pytest.mark.parametrize("data,ctype", NOT_OBJECTS[:6])
def test_patch_body_not_a_json_object_raw(server, app, mint, data, ctype):
    token = mint(app["id"])
    headers = {"Content-Type": ctype} if ctype else {}
    resp = server.raw(
        "PATCH",
        "/applications/%s/tokens/%s" % (app["id"], token["id"]),
        token=server.admin_token,
        headers=headers,
        data=data.encode("latin-1"),
    )
    raw_error(resp, 400)


def test_json_object_with_other_content_type_is_accepted(server, app):
    """Spec 1: a body is judged by what it is, whatever its Content-Type."""
    resp = server.raw(
        "POST",
        "/applications/%s/tokens" % app["id"],
        token=server.admin_token,
        headers={"Content-Type": "text/plain"},
        data=json.dumps({"name": "x"}),
    )
    assert resp.status_code == 201, resp.text[:300]
    assert resp.json()["name"] == "x"


def test_body_on_get_and_delete_is_ignored(server, app, mint):
    """The npm client sends `{}` with every DELETE; a body on GET is ignored too."""
    token = mint(app["id"])
    path = "/applications/%s/tokens/%s" % (app["id"], token["id"])
    resp = server.raw("GET", path, token=server.admin_token, json={"name": "ignored"})
    assert resp.status_code == 200 and resp.json()["name"] == token["name"]
    resp = server.raw("GET", "/applications/%s/tokens" % app["id"], token=server.admin_token, data="garbage{")
    assert resp.status_code == 200
    resp = server.raw("DELETE", path, token=server.admin_token, json={})
    assert resp.status_code == 200 and resp.json() == {"success": True}


# -------------------------------------------------------------------- 401


def test_no_token(server, app):
    anonymous = server.client(None)  # the official client then sends no Authorization header
    expect_error(401, anonymous.application_api_tokens.get, applicationId=app["id"])
    expect_error(401, anonymous.application_api_tokens.post, applicationId=app["id"], apiToken={"name": "x"})
    expect_error(401, anonymous.application.get, applicationId=app["id"])
    expect_error(401, anonymous.applications.get)
    expect_error(401, anonymous.request, "GET", "/auth/introspect")


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "Bearer",
        "x" * 5000,
    ],
)
def test_garbled_tokens(server, app, value):
    body = expect_error(401, server.client(value).application_api_tokens.get, applicationId=app["id"])
    assert value not in body["message"] or len(value) < 8


@pytest.mark.parametrize(
    "header",
    [
        "Basic YWRtaW46YWRtaW4=",
        "Token {t}",
        "Bearer {t} {t}",
        "Bearer {t} extra",
        "{t}",
        "Bearer",
        "Bearer ",
    ],
)
def test_malformed_authorization_headers(server, app, header):
    value = header.format(t=server.admin_token)
    resp = server.raw("GET", "/applications/%s/tokens" % app["id"], headers={"Authorization": value})
    raw_error(resp, 401)


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_scheme_is_case_insensitive(server, app, scheme):
    resp = server.raw(
        "GET", "/applications/%s/tokens" % app["id"], headers={"Authorization": scheme + " " + server.admin_token}
    )
    assert resp.status_code == 200, resp.text


def test_forged_tokens(server, app, mint):
    real = mint(app["id"], ["applicationApiTokens.get"])["token"]
    header_b64, payload_b64, sig_b64 = real.split(".")
    header, claims, _ = jwt_parts(real)

    # 1. claims changed, signature kept
    claims2 = dict(claims, scope=["all.Application"])
    forged_claims = "%s.%s.%s" % (header_b64, b64url_encode(json.dumps(claims2).encode()), sig_b64)
    # 2. signature flipped
    sig = bytearray(jwt_parts(real)[2])
    sig[0] ^= 1
    forged_sig = "%s.%s.%s" % (header_b64, payload_b64, b64url_encode(bytes(sig)))
    # 3. signed with another Ed25519 key under the server's kid
    key = Ed25519PrivateKey.generate()
    signing_input = "%s.%s" % (header_b64, payload_b64)
    forged_key = signing_input + "." + b64url_encode(key.sign(signing_input.encode()))
    # 4. a fresh id, well-signed by another key: an unknown token of valid shape
    claims4 = dict(claims, sub=random_id(), jti=None)
    claims4["jti"] = claims4["sub"]
    p4 = b64url_encode(json.dumps(claims4).encode())
    forged_unknown = "%s.%s" % (header_b64, p4)
    forged_unknown += "." + b64url_encode(key.sign(forged_unknown.encode()))
    # 5. alg none
    none_header = b64url_encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    forged_none = "%s.%s." % (none_header, payload_b64)

    for forged in (forged_claims, forged_sig, forged_key, forged_unknown, forged_none, real + "x", real[:-2]):
        expect_error(401, server.client(forged).application_api_tokens.get, applicationId=app["id"])
    # the real one still works
    assert server.client(real).application_api_tokens.get(applicationId=app["id"])["totalCount"] == 1


def test_token_from_another_installation(server, app, tmp_path):
    """A well-formed token minted by another database's key is unknown here."""
    other_db = "sqlite://" + str(tmp_path / "other.db")
    stranger = server.cli("admin-token", "--database", other_db)
    expect_error(401, server.client(stranger).application_api_tokens.get, applicationId=app["id"])
    expect_error(401, server.client(stranger).applications.get)


# -------------------------------------------------------------------- 403


def test_missing_scope(server, app, mint):
    token = mint(app["id"], ["device.sendState"])
    holder = server.client(token["token"])
    for call in (
        lambda: holder.application_api_tokens.get(applicationId=app["id"]),
        lambda: holder.application_api_tokens.post(applicationId=app["id"], apiToken={"name": "x"}),
        lambda: holder.application_api_token.get(applicationId=app["id"], apiTokenId=token["id"]),
        lambda: holder.application_api_token.patch(
            applicationId=app["id"], apiTokenId=token["id"], apiToken={"name": "x"}
        ),
        lambda: holder.application_api_token.delete(applicationId=app["id"], apiTokenId=token["id"]),
        lambda: holder.application.get(applicationId=app["id"]),
    ):
        expect_error(403, call)


@pytest.mark.parametrize(
    "scope,allowed",
    [
        (["applicationApiTokens.get"], {"list"}),
        (["applicationApiTokens.post"], {"create"}),
        (["applicationApiTokens.*"], {"list", "create"}),
        (["applicationApiToken.get"], {"get"}),
        (["applicationApiToken.*"], {"get", "patch", "delete"}),
        (["all.Application.read"], {"list", "get"}),
        (["all.Application"], {"list", "create", "get", "patch", "delete"}),
        (["all.Device"], set()),
        (["all.Device.read"], set()),
        (["application.*"], set()),
        # a choice where the spec is silent: the .cli scopes grant everything but the API-token actions
        (["all.Application.cli"], set()),
    ],
)
def test_scope_matrix(server, admin, app, mint, scope, allowed):
    holder = server.client(mint(app["id"], scope)["token"])
    victim = mint(app["id"], ["device.get"])
    calls = {
        "list": lambda: holder.application_api_tokens.get(applicationId=app["id"]),
        "create": lambda: holder.application_api_tokens.post(
            applicationId=app["id"], apiToken={"name": "child", "scope": scope}
        ),
        "get": lambda: holder.application_api_token.get(applicationId=app["id"], apiTokenId=victim["id"]),
        "patch": lambda: holder.application_api_token.patch(
            applicationId=app["id"], apiTokenId=victim["id"], apiToken={"description": "patched"}
        ),
        "delete": lambda: holder.application_api_token.delete(applicationId=app["id"], apiTokenId=victim["id"]),
    }
    for name in ("list", "create", "get", "patch", "delete"):
        if name in allowed:
            calls[name]()
        else:
            body = expect_error(403, calls[name])
            assert body["type"] == "Forbidden"


def test_cli_scope_reaches_the_application_itself(server, app, mint):
    holder = server.client(mint(app["id"], ["all.Application.cli"])["token"])
    assert holder.application.get(applicationId=app["id"])["id"] == app["id"]
    assert holder.application.patch(applicationId=app["id"], application={"name": "via cli"})["name"] == "via cli"


# -------------------------------------------------------------------- 404


def test_another_users_application_is_404(server, admin):
    owner = unique("owner")
    server.create_user(owner)
    other = server.client(server.user_token(owner))
    theirs = other.applications.post(application={"name": unique("theirs")})
    their_token = other.application_api_tokens.post(applicationId=theirs["id"], apiToken={"name": "t"})

    for call in (
        lambda: admin.application.get(applicationId=theirs["id"]),
        lambda: admin.application.patch(applicationId=theirs["id"], application={"name": "x"}),
        lambda: admin.application.delete(applicationId=theirs["id"]),
        lambda: admin.application_api_tokens.get(applicationId=theirs["id"]),
        lambda: admin.application_api_tokens.post(applicationId=theirs["id"], apiToken={"name": "x"}),
        lambda: admin.application_api_token.get(applicationId=theirs["id"], apiTokenId=their_token["id"]),
        lambda: admin.application_api_token.patch(
            applicationId=theirs["id"], apiTokenId=their_token["id"], apiToken={"status": "inactive"}
        ),
        lambda: admin.application_api_token.delete(applicationId=theirs["id"], apiTokenId=their_token["id"]),
    ):
        body = expect_error(404, call)
        assert theirs["name"] not in body["message"]
    # all untouched
    assert other.application_api_token.get(applicationId=theirs["id"], apiTokenId=their_token["id"])["status"] == (
        "active"
    )
    # unknown and unreachable look the same
    unknown = expect_error(404, admin.application_api_tokens.get, applicationId=random_id())
    assert unknown["type"] == "NotFound"


def test_application_token_reaches_only_its_application(server, admin, app, mint):
    other_app = admin.applications.post(application={"name": unique("other")})
    other_token = mint(other_app["id"])
    holder = server.client(mint(app["id"], ["all.Application"])["token"])
    expect_error(404, holder.application_api_tokens.get, applicationId=other_app["id"])
    expect_error(404, holder.application_api_tokens.post, applicationId=other_app["id"], apiToken={"name": "x"})
    expect_error(404, holder.application.get, applicationId=other_app["id"])
    expect_error(404, holder.application_api_token.get, applicationId=other_app["id"], apiTokenId=other_token["id"])
    # another application's token through its own application: 404 too
    expect_error(404, holder.application_api_token.get, applicationId=app["id"], apiTokenId=other_token["id"])
    expect_error(
        404, holder.application_api_token.delete, applicationId=app["id"], apiTokenId=other_token["id"]
    )
    assert admin.application_api_token.get(applicationId=other_app["id"], apiTokenId=other_token["id"])


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/"),
        ("GET", "/nope"),
        ("GET", "/applications/{app}/nope"),
        ("GET", "/applications/{app}/tokens/{tok}/extra"),
        ("POST", "/auth/nope"),
        ("GET", "/me"),
    ],
)
def test_unknown_routes_are_404_without_auth(server, app, method, path):
    path = path.format(app=app["id"], tok=random_id())
    raw_error(server.raw(method, path), 404)
    raw_error(server.raw(method, path, token="garbage"), 404)


def test_health_needs_no_auth(server):
    # a documented choice: /health needs no token
    resp = server.raw("GET", "/health")
    assert resp.status_code == 200


# -------------------------------------------------------------------- 405


@pytest.mark.parametrize(
    "method,path",
    [
        ("PUT", "/applications/{app}/tokens"),
        ("POST", "/applications/{app}/tokens/{tok}"),
        ("PUT", "/applications/{app}/tokens/{tok}"),
        ("PUT", "/applications"),
        ("DELETE", "/applications"),
        ("POST", "/applications/{app}"),
        ("POST", "/auth/introspect"),
        ("DELETE", "/.well-known/jwks.json"),
    ],
)
def test_wrong_method_is_405(server, app, mint, method, path):
    path = path.format(app=app["id"], tok=mint(app["id"])["id"])
    resp = server.raw(method, path, token=server.admin_token, json={})
    raw_error(resp, 405)


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_a_bulk_change_without_a_narrowing_filter_is_400(server, app, mint, method):
    """PATCH and DELETE on the collection revoke in bulk (spec 1.5): never
    every token by accident."""
    token = mint(app["id"])
    resp = server.raw(method, "/applications/%s/tokens" % app["id"], token=server.admin_token, json={"status": "inactive"})
    raw_error(resp, 400)
    still = server.raw("GET", "/applications/%s/tokens/%s" % (app["id"], token["id"]), token=server.admin_token)
    assert still.status_code == 200 and still.json()["status"] == "active"


# -------------------------------------------------------------------- 413


def test_body_over_one_mib_is_413(server, app):
    path = "/applications/%s/tokens" % app["id"]
    prefix, suffix = b'{"name": "big", "description": "', b'"}'

    def body_of(size):
        return prefix + b"d" * (size - len(prefix) - len(suffix)) + suffix

    over = body_of(1024 * 1024 + 1)
    resp = server.raw(
        "POST", path, token=server.admin_token, headers={"Content-Type": "application/json"}, data=over
    )
    raw_error(resp, 413)

    # exactly 1 MiB is not over: it is judged on its content (a description too long)
    exact = body_of(1024 * 1024)
    resp = server.raw(
        "POST", path, token=server.admin_token, headers={"Content-Type": "application/json"}, data=exact
    )
    body = raw_error(resp, 400)
    assert_message_names(body, "description")

    # chunked, with no Content-Length
    def chunks():
        yield prefix
        for _ in range(33):
            yield b"d" * 32768
        yield suffix

    resp = server.raw(
        "POST", path, token=server.admin_token, headers={"Content-Type": "application/json"}, data=chunks()
    )
    raw_error(resp, 413)

    # on PATCH too
    resp = server.raw(
        "PATCH",
        path + "/" + random_id(),
        token=server.admin_token,
        headers={"Content-Type": "application/json"},
        data=over,
    )
    raw_error(resp, 413)


# ---------------------------------------------------------- responses are JSON


def test_error_responses_are_json(server, app):
    for method, path, token, status in (
        ("GET", "/applications/%s/tokens" % app["id"], None, 401),
        ("GET", "/applications/xyz/tokens", server.admin_token, 400),
        ("GET", "/applications/%s/tokens" % random_id(), server.admin_token, 404),
        ("GET", "/nope", None, 404),
    ):
        raw_error(server.raw(method, path, token=token), status)


@pytest.mark.parametrize(
    "method,path,kwargs,status",
    [
        # invalid UTF-8 is read as U+FFFD: a glob like any other
        ("GET", "/applications/{app}/tokens?filterField=name&filter=%ff", {}, 200),
        ("GET", "/applications/{app}/tokens?sortField=%00", {}, 400),
        ("GET", "/applications/{app}/tokens?page=99999999999999999999999999", {}, 400),
        # parameters a listing does not know are ignored
        ("GET", "/applications/{app}/tokens?" + "&".join("x%d=1" % i for i in range(500)), {}, 200),
        ("GET", "/applications/{app}/tokens", {"headers": {"X-Big": "a" * 60000}}, 200),
        ("POST", "/applications/{app}/tokens", {"data": '{"name":' + "[" * 5000 + "]" * 5000 + "}"}, 400),
        ("POST", "/applications/{app}/tokens", {"data": '{"name": "x", "description": 1e999999}'}, 400),
        ("POST", "/applications/{app}/tokens", {"data": '{"name": "\\ud800"}'}, 400),
        ("POST", "/applications/{app}/tokens", {"json": {"name": "x", "scope": [None]}}, 400),
        ("POST", "/applications/{app}/tokens", {"json": {"name": {"nested": "object"}}}, 400),
        # the body is checked before the token is looked up (spec 2's order)
        ("PATCH", "/applications/{app}/tokens/{rnd}", {"json": {"status": None}}, 400),
        ("GET", "/applications/" + "a" * 60000 + "/tokens", {}, 400),
    ],
)
def test_odd_requests_get_json_answers(server, app, method, path, kwargs, status):
    """Nothing the client sends produces a 5xx; every answer is the contract's, in JSON."""
    path = path.format(app=app["id"], rnd=random_id())
    resp = server.raw(method, path, token=server.admin_token, **kwargs)
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    body = resp.json()
    if resp.status_code >= 400:
        check_error_body(body, resp.status_code)


def test_overlong_url_is_refused_with_414(server):
    """A request target over 65,534 bytes cannot be represented by the HTTP
    stack at all (the `http` crate's Uri limit): hyper answers 414 URI Too
    Long itself, with an empty body, before any application code runs. The
    spec's "every body is JSON" cannot hold there; what must hold is a 4xx
    (no 5xx) and a server that keeps serving. Up to that limit an overlong id
    is the application's JSON 400, as the second request checks."""
    resp = server.raw("GET", "/applications/" + "a" * 70000 + "/tokens", token=server.admin_token)
    assert resp.status_code == 414, (resp.status_code, resp.text[:100])
    again = server.raw("GET", "/applications/" + "a" * 65000 + "/tokens", token=server.admin_token)
    assert again.status_code == 400
    assert again.json()["type"] == "Validation"


# ------------------------------------------------------- the order of checks


def test_order_bad_token_beats_bad_id(server):
    holder = server.client("garbage")
    expect_error(401, holder.application_api_tokens.get, applicationId="xyz")
    expect_error(401, holder.application_api_token.get, applicationId="xyz", apiTokenId="abc")
    expect_error(401, server.client(None).application_api_tokens.post, applicationId="xyz", apiToken=[1])


def test_order_revoked_token_beats_everything(server, admin, app, mint):
    token = mint(app["id"], ["device.get"])
    admin.application_api_token.delete(applicationId=app["id"], apiTokenId=token["id"])
    holder = server.client(token["token"])
    expect_error(401, holder.application_api_tokens.get, applicationId="xyz", sortField="bogus")
    expect_error(401, holder.application_api_tokens.post, applicationId=random_id(), apiToken={"bogus": 1})


def test_order_bad_id_beats_reach(server, admin, app, mint):
    holder = server.client(mint(app["id"], ["device.get"])["token"])
    other = admin.applications.post(application={"name": unique("other")})
    # unreachable application, malformed token id: the malformed id is seen first
    body = expect_error(400, holder.application_api_token.get, applicationId=other["id"], apiTokenId="xyz")
    assert_message_names(body, "apiTokenId")
    body = expect_error(400, holder.application_api_token.get, applicationId=random_id(), apiTokenId="xyz")
    assert_message_names(body, "apiTokenId")


def test_order_reach_beats_scope_and_params(server, admin, app, mint):
    holder = server.client(mint(app["id"], ["device.get"])["token"])
    other = admin.applications.post(application={"name": unique("other")})
    # unreachable app + missing scope -> 404
    expect_error(404, holder.application_api_tokens.get, applicationId=other["id"])
    # unreachable app + bad query param -> 404
    expect_error(404, admin.application_api_tokens.get, applicationId=random_id(), sortField="bogus")
    expect_error(404, holder.application_api_tokens.get, applicationId=other["id"], perPage="0")
    # unreachable app + bad body -> 404
    expect_error(404, admin.application_api_tokens.post, applicationId=random_id(), apiToken={"bogus": 1})
    expect_error(404, holder.application_api_tokens.post, applicationId=other["id"], apiToken=[1])


def test_order_scope_beats_params_and_body(server, app, mint):
    holder = server.client(mint(app["id"], ["device.get"])["token"])
    # missing scope + bad query param -> 403
    expect_error(403, holder.application_api_tokens.get, applicationId=app["id"], sortField="bogus")
    # missing scope + bad body -> 403
    expect_error(403, holder.application_api_tokens.post, applicationId=app["id"], apiToken={"bogus": 1})
    expect_error(403, holder.application_api_tokens.post, applicationId=app["id"], apiToken=[1])
    resp = server.raw(
        "POST",
        "/applications/%s/tokens" % app["id"],
        token=holder.auth_token,
        headers={"Content-Type": "application/json"},
        data="{not json",
    )
    raw_error(resp, 403)


def test_order_body_beats_escalation(server, app, mint):
    limited = server.client(mint(app["id"], ["applicationApiTokens.post", "device.sendState"])["token"])
    # escalating AND malformed -> 400 (body checks come before the escalation check)
    body = expect_error(
        400,
        limited.application_api_tokens.post,
        applicationId=app["id"],
        apiToken={"name": "x", "scope": ["all.Application"], "bogus": True},
    )
    assert_message_names(body, "bogus")
    expect_error(
        400,
        limited.application_api_tokens.post,
        applicationId=app["id"],
        apiToken={"name": "", "scope": ["all.Application"]},
    )

