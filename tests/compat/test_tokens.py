"""Application API tokens: create, read, patch, delete, revocation (spec 1.2, 1.3, 6)."""

import time
from datetime import datetime, timedelta, timezone

from conftest import (
    ID_RE,
    assert_date,
    assert_message_names,
    expect_error,
    fmt_date,
    load_scopes,
    jwt_parts,
    parse_date,
    random_id,
    unique,
    validate,
)


def test_create_token_defaults(server, admin, app, admin_record):
    created = admin.application_api_tokens.post(applicationId=app["id"], apiToken={"name": "Default Token"})
    validate(created, "apiToken.json")
    assert ID_RE.match(created["id"])
    assert created["apiTokenId"] == created["id"]
    assert created["ownerId"] == app["id"]
    assert created["ownerType"] == "application"
    assert created["creatorType"] == "apiToken"
    assert created["creatorId"] == admin_record["id"]
    assert created["creatorName"] == admin_record["name"]
    assert created["name"] == "Default Token"
    assert created["scope"] == ["all.Application"]
    assert created["status"] == "active"
    assert "expirationDate" not in created
    assert created["description"] == ""  # a choice: always present, "" by default
    assert assert_date(created["creationDate"]) == assert_date(created["lastUpdated"])
    assert isinstance(created["token"], str) and created["token"]

    # the secret works, with exactly its record behind it
    holder = server.client(created["token"])
    listing = holder.application_api_tokens.get(applicationId=app["id"])
    assert [t["id"] for t in listing["items"]] == [created["id"]]


def test_create_token_all_fields(server, admin, app):
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)
    body = {
        "name": "Full",
        "description": "all the fields",
        "expirationDate": fmt_date(expires),
        "scope": ["applicationApiTokens.get", "device.sendState"],
        "status": "inactive",
    }
    validate(body, "applicationApiTokenPost.json")
    created = admin.application_api_tokens.post(applicationId=app["id"], apiToken=body)
    validate(created, "apiToken.json")
    assert created["name"] == "Full"
    assert created["description"] == "all the fields"
    assert assert_date(created["expirationDate"]) == expires
    assert created["scope"] == ["applicationApiTokens.get", "device.sendState"]
    assert created["status"] == "inactive"
    assert created["token"]
    # created inactive: the secret does not authenticate
    expect_error(401, server.client(created["token"]).application_api_tokens.get, applicationId=app["id"])


def test_expiration_date_is_normalised_to_utc_millis(admin, app):
    created = admin.application_api_tokens.post(
        applicationId=app["id"],
        apiToken={"name": "offset", "expirationDate": "2099-01-01T02:00:00+02:00"},
    )
    assert created["expirationDate"] == "2099-01-01T00:00:00.000Z"


def test_get_never_returns_the_secret(server, admin, app, mint):
    created = mint(app["id"], ["all.Application.read"], description="d")
    assert created["token"]
    got = admin.application_api_token.get(applicationId=app["id"], apiTokenId=created["id"])
    validate(got, "apiToken.json")
    assert "token" not in got
    expected = dict(created)
    del expected["token"]
    assert got == expected
    listing = admin.application_api_tokens.get(applicationId=app["id"])
    validate(listing, "apiTokens.json")
    assert all("token" not in t for t in listing["items"])
    assert [t for t in listing["items"] if t["id"] == created["id"]] == [expected]
    # nor does a patch
    patched = admin.application_api_token.patch(
        applicationId=app["id"], apiTokenId=created["id"], apiToken={"name": "renamed"}
    )
    assert "token" not in patched
    # nor introspection
    me = server.client(created["token"]).request("GET", "/auth/introspect")
    assert me["id"] == created["id"]
    assert "token" not in me


def test_token_claims(admin, app, mint):
    plain = mint(app["id"], ["device.sendState"])
    header, claims, _ = jwt_parts(plain["token"])
    assert header["alg"] == "EdDSA"
    assert header.get("kid")
    assert claims["sub"] == plain["id"]
    assert claims["jti"] == plain["id"]
    assert claims["iss"]
    assert isinstance(claims["iat"], int)
    assert abs(claims["iat"] - parse_date(plain["creationDate"]).timestamp()) <= 2
    assert claims["scope"] == ["device.sendState"]
    assert claims["ownerType"] == "application"
    assert claims["ownerId"] == app["id"]
    assert "exp" not in claims

    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
    expiring = mint(app["id"], expirationDate=fmt_date(expires))
    _, claims, _ = jwt_parts(expiring["token"])
    assert claims["exp"] == int(expires.timestamp())


def test_patch_name_description_status(server, admin, app, mint):
    created = mint(app["id"], ["applicationApiTokens.get"], name="before", description="old")
    holder = server.client(created["token"])
    holder.application_api_tokens.get(applicationId=app["id"])

    time.sleep(0.005)
    patched = admin.application_api_token.patch(
        applicationId=app["id"], apiTokenId=created["id"], apiToken={"name": "after", "description": "new"}
    )
    validate(patched, "apiToken.json")
    assert patched["name"] == "after"
    assert patched["description"] == "new"
    assert patched["status"] == "active"
    assert patched["scope"] == created["scope"]
    assert patched["creationDate"] == created["creationDate"]
    assert assert_date(patched["lastUpdated"]) > assert_date(created["lastUpdated"])
    assert admin.application_api_token.get(applicationId=app["id"], apiTokenId=created["id"]) == patched

    # deactivation revokes at once: the very next request is refused
    time.sleep(0.005)
    inactive = admin.application_api_token.patch(
        applicationId=app["id"], apiTokenId=created["id"], apiToken={"status": "inactive"}
    )
    assert inactive["status"] == "inactive"
    assert inactive["name"] == "after"
    assert inactive["creationDate"] == created["creationDate"]
    assert assert_date(inactive["lastUpdated"]) > assert_date(patched["lastUpdated"])
    expect_error(401, holder.application_api_tokens.get, applicationId=app["id"])

    # re-activation brings it back at once
    active = admin.application_api_token.patch(
        applicationId=app["id"], apiTokenId=created["id"], apiToken={"status": "active"}
    )
    assert active["status"] == "active"
    listing = holder.application_api_tokens.get(applicationId=app["id"])
    assert created["id"] in [t["id"] for t in listing["items"]]


def test_token_deactivating_itself(server, app, mint):
    created = mint(app["id"], ["applicationApiToken.patch", "applicationApiToken.get"])
    holder = server.client(created["token"])
    res = holder.application_api_token.patch(
        applicationId=app["id"], apiTokenId=created["id"], apiToken={"status": "inactive"}
    )
    assert res["status"] == "inactive"
    expect_error(401, holder.application_api_token.get, applicationId=app["id"], apiTokenId=created["id"])


def test_patch_refuses_scope_expiration_and_others(admin, app, mint):
    created = mint(app["id"], ["device.sendState"])
    cases = [
        ({"scope": ["all.Application"]}, "scope"),
        ({"expirationDate": fmt_date(datetime.now(timezone.utc) + timedelta(days=1))}, "expirationDate"),
        ({"token": "x"}, "token"),
        ({"ownerId": app["id"]}, "ownerId"),
        ({"name": "ok", "status": "active", "creationDate": "2020-01-01T00:00:00.000Z"}, "creationDate"),
    ]
    for body, word in cases:
        err = expect_error(
            400, admin.application_api_token.patch, applicationId=app["id"], apiTokenId=created["id"], apiToken=body
        )
        assert_message_names(err, word)
    for body in ({"name": ""}, {"name": "x" * 256}, {"status": "paused"}, {"description": "x" * 32768}, {"name": 5}):
        expect_error(
            400, admin.application_api_token.patch, applicationId=app["id"], apiTokenId=created["id"], apiToken=body
        )
    # nothing changed
    got = admin.application_api_token.get(applicationId=app["id"], apiTokenId=created["id"])
    assert got["scope"] == ["device.sendState"]
    assert "expirationDate" not in got
    assert got["name"] == created["name"]
    assert got["lastUpdated"] == created["lastUpdated"]


def test_delete_revokes_at_once(server, admin, app, mint):
    created = mint(app["id"], ["all.Application"])
    holder = server.client(created["token"])
    assert holder.application_api_token.get(applicationId=app["id"], apiTokenId=created["id"])["id"] == created["id"]

    result = admin.application_api_token.delete(applicationId=app["id"], apiTokenId=created["id"])
    validate(result, "success.json")
    assert result == {"success": True}
    expect_error(401, holder.application_api_tokens.get, applicationId=app["id"])
    expect_error(404, admin.application_api_token.get, applicationId=app["id"], apiTokenId=created["id"])
    expect_error(404, admin.application_api_token.delete, applicationId=app["id"], apiTokenId=created["id"])
    assert created["id"] not in [t["id"] for t in admin.application_api_tokens.get(applicationId=app["id"])["items"]]


def test_token_deleting_itself(server, app, mint):
    created = mint(app["id"], ["applicationApiToken.delete"])
    holder = server.client(created["token"])
    assert holder.application_api_token.delete(applicationId=app["id"], apiTokenId=created["id"]) == {
        "success": True
    }
    expect_error(401, holder.application_api_token.delete, applicationId=app["id"], apiTokenId=created["id"])


def test_token_survives_in_listing_after_unrelated_changes(admin, app, mint):
    """Creating, patching and deleting one token leaves the others as they were."""
    keep = mint(app["id"], ["device.get"], name="keep")
    other = mint(app["id"], name="other")
    admin.application_api_token.patch(applicationId=app["id"], apiTokenId=other["id"], apiToken={"name": "x"})
    admin.application_api_token.delete(applicationId=app["id"], apiTokenId=other["id"])
    expected = dict(keep)
    del expected["token"]
    assert admin.application_api_tokens.get(applicationId=app["id"])["items"] == [expected]


def test_expiry(server, admin, app):
    """A token with an expirationDate a couple of seconds ahead works, then is refused once it passes."""
    now = datetime.now(timezone.utc)
    expires = now.replace(microsecond=0) + timedelta(seconds=3)  # 2..3 s ahead, whole second
    created = admin.application_api_tokens.post(
        applicationId=app["id"],
        apiToken={"name": "short-lived", "scope": ["applicationApiTokens.get"], "expirationDate": fmt_date(expires)},
    )
    assert parse_date(created["expirationDate"]) == expires
    holder = server.client(created["token"])
    expires_at = expires.timestamp()

    margin = 0.02  # millisecond rounding of the stored date
    statuses = []  # (request start, request end, status)
    deadline = expires_at + 3.0
    while time.time() < deadline:
        start = time.time()
        try:
            holder.application_api_tokens.get(applicationId=app["id"])
            status = 200
        except Exception as e:  # LosantError
            status = getattr(e, "status", None)
            if status != 401:
                raise
        end = time.time()
        statuses.append((start, end, status))
        if status == 401 and start > expires_at + margin:
            break
        time.sleep(0.05)

    before = [s for (start, end, s) in statuses if end < expires_at - 0.1]
    after = [s for (start, end, s) in statuses if start > expires_at + margin]
    assert len(before) >= 3 and set(before) == {200}, "refused before its expirationDate: %r" % statuses
    assert after, "still accepted %.1f s after its expirationDate: %r" % (deadline - expires_at, statuses)
    # spec 1.3: past its expirationDate it is rejected on its very next request
    assert after[0] == 401, statuses
    # and stays refused
    expect_error(401, holder.application_api_tokens.get, applicationId=app["id"])
    # its record is still there, marked by its date
    got = admin.application_api_token.get(applicationId=app["id"], apiTokenId=created["id"])
    assert got["expirationDate"] == created["expirationDate"]


def test_unknown_token_ids(admin, app, mint):
    other_app = admin.applications.post(application={"name": unique("other")})
    foreign = mint(other_app["id"])
    for token_id in (random_id(), foreign["id"]):
        expect_error(404, admin.application_api_token.get, applicationId=app["id"], apiTokenId=token_id)
        expect_error(
            404,
            admin.application_api_token.patch,
            applicationId=app["id"],
            apiTokenId=token_id,
            apiToken={"name": "x"},
        )
        expect_error(404, admin.application_api_token.delete, applicationId=app["id"], apiTokenId=token_id)
    # the other application's token is untouched
    assert admin.application_api_token.get(applicationId=other_app["id"], apiTokenId=foreign["id"])["name"] == (
        foreign["name"]
    )


def test_ids_accepted_in_either_case(admin, app, mint):
    created = mint(app["id"])
    got = admin.application_api_token.get(applicationId=app["id"].upper(), apiTokenId=created["id"].upper())
    assert got["id"] == created["id"]
    assert admin.application.get(applicationId=app["id"].upper())["id"] == app["id"]


def test_boundaries_accepted(admin, app):
    created = admin.application_api_tokens.post(
        applicationId=app["id"], apiToken={"name": "n" * 255, "description": "d" * 32767}
    )
    assert created["name"] == "n" * 255
    assert len(created["description"]) == 32767
    uni = admin.application_api_tokens.post(applicationId=app["id"], apiToken={"name": "é" * 255})
    assert uni["name"] == "é" * 255


def test_nul_character_is_refused(admin, app, mint):
    # a choice where the spec is silent: strings with NUL are 400, so every backend stores what was sent
    err = expect_error(400, admin.application_api_tokens.post, applicationId=app["id"], apiToken={"name": "a\u0000b"})
    assert_message_names(err, "name")
    created = mint(app["id"])
    expect_error(
        400,
        admin.application_api_token.patch,
        applicationId=app["id"],
        apiTokenId=created["id"],
        apiToken={"description": "x\u0000"},
    )


def test_under_100_requests_a_second_are_never_refused(server, app, mint):
    """Spec 2: the default limits never refuse a token making under 100 requests a second."""
    holder = server.client(mint(app["id"], ["applicationApiTokens.get"])["token"])
    start = time.monotonic()
    for i in range(90):
        # pace at 90 per second
        delay = start + i / 90.0 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        assert holder.application_api_tokens.get(applicationId=app["id"], perPage=1)["totalCount"] == 1


def test_every_application_scope_is_accepted_and_no_other(admin, app):
    scopes = load_scopes()
    application = scopes["application"]
    created = admin.application_api_tokens.post(applicationId=app["id"], apiToken={"name": "all", "scope": application})
    validate({"name": "all", "scope": application}, "applicationApiTokenPost.json")
    assert created["scope"] == application
    others = sorted({s for kind, names in scopes.items() if kind != "application" for s in names} - set(application))
    assert others
    for scope in others:
        err = expect_error(
            400, admin.application_api_tokens.post, applicationId=app["id"], apiToken={"name": "x", "scope": [scope]}
        )
        assert_message_names(err, scope)
    assert admin.application_api_tokens.get(applicationId=app["id"])["totalCount"] == 1
