"""GET /auth/introspect and GET /.well-known/jwks.json (spec 6)."""

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from conftest import (
    assert_message_names,
    b64url_decode,
    expect_error,
    jwt_parts,
    random_id,
    raw_error,
    unique,
    validate,
)


def introspect(server, token, **params):
    # the official client's own request method (it has no named method for this endpoint)
    return server.client(token).request("GET", "/auth/introspect", params=params or None)


def test_introspect_describes_the_caller(server, app, mint):
    created = mint(app["id"], ["device.sendState"], description="me")
    me = introspect(server, created["token"])
    validate(me, "apiToken.json")
    assert me["active"] is True
    assert "token" not in me
    assert "allowed" not in me
    expected = dict(created)
    del expected["token"]
    assert {k: v for k, v in me.items() if k != "active"} == expected


def test_introspect_user_token(server, admin_record):
    assert admin_record["active"] is True
    assert admin_record["ownerType"] == "user"
    assert admin_record["scope"] == ["all.User"]
    assert admin_record["status"] == "active"
    assert "token" not in admin_record


@pytest.mark.parametrize(
    "scope,action,allowed",
    [
        (["device.sendState"], "device.sendState", True),
        (["device.sendState"], "device.get", False),
        (["device.sendState"], "applicationApiTokens.get", False),
        (["device.*"], "device.get", True),
        (["device.*"], "devices.get", False),
        (["all.Application"], "flows.post", True),
        (["all.Application.read"], "device.getState", True),
        (["all.Application.read"], "application.get", True),
        (["all.Application.read"], "device.sendState", False),
        (["all.Device"], "devices.post", True),
        (["all.Device"], "deviceAttribute.delete", True),
        (["all.Device"], "data.export", True),
        (["all.Device"], "flows.get", False),
        (["all.Device.read"], "device.getState", True),
        (["all.Device.read"], "device.sendState", False),
        (["all.Application.cli"], "flows.post", True),
        (["all.Application.cli"], "applicationApiTokens.get", False),  # the .cli choice
        (["applicationApiTokens.get"], "applicationApiTokens.get", True),
        (["applicationApiTokens.get"], "applicationApiToken.get", False),
    ],
)
def test_introspect_allowed_follows_the_scope_rules(server, app, mint, scope, action, allowed):
    token = mint(app["id"], scope)["token"]
    res = introspect(server, token, applicationId=app["id"], action=action)
    assert res["active"] is True
    assert res["allowed"] is allowed


def test_introspect_allowed_outside_reach(server, admin, app, mint):
    token = mint(app["id"], ["all.Application"])["token"]
    other = admin.applications.post(application={"name": unique("other")})
    assert introspect(server, token, applicationId=app["id"], action="device.get")["allowed"] is True
    assert introspect(server, token, applicationId=other["id"], action="device.get")["allowed"] is False
    assert introspect(server, token, applicationId=random_id(), action="device.get")["allowed"] is False
    # the user token too
    assert introspect(server, server.admin_token, applicationId=app["id"], action="device.get")["allowed"] is True
    assert introspect(server, server.admin_token, applicationId=random_id(), action="device.get")["allowed"] is False


def test_introspect_bad_requests(server, app):
    client = server.client(server.admin_token)
    for params in (
        {"applicationId": app["id"]},
        {"action": "device.get"},
        {"applicationId": app["id"], "action": "nodot"},
        {"applicationId": app["id"], "action": ""},
        {"applicationId": app["id"], "action": "a.b.c"},
        {"applicationId": app["id"], "action": ".get"},
        {"applicationId": "xyz", "action": "device.get"},
    ):
        body = expect_error(400, client.request, "GET", "/auth/introspect", params=params)
        word = "applicationId" if params.get("applicationId") == "xyz" else None
        if word:
            assert_message_names(body, word)
        elif "action" in params and params["action"] != "device.get":
            assert_message_names(body, "action")


def test_introspect_refuses_dead_tokens(server, admin, app, mint):
    expect_error(401, server.client(None).request, "GET", "/auth/introspect")
    expect_error(401, server.client("garbage").request, "GET", "/auth/introspect")
    inactive = mint(app["id"], status="inactive")
    expect_error(401, server.client(inactive["token"]).request, "GET", "/auth/introspect")
    gone = mint(app["id"])
    admin.application_api_token.delete(applicationId=app["id"], apiTokenId=gone["id"])
    expect_error(401, server.client(gone["token"]).request, "GET", "/auth/introspect")


# ---------------------------------------------------------------------- JWKS


def verify_with_jwks(jwks, token):
    header_b64, payload_b64, sig_b64 = token.split(".")
    header, _, signature = jwt_parts(token)
    keys = [k for k in jwks["keys"] if k.get("kid") == header["kid"]]
    assert len(keys) == 1, "no single key %s in %r" % (header["kid"], jwks)
    key = Ed25519PublicKey.from_public_bytes(b64url_decode(keys[0]["x"]))
    key.verify(signature, ("%s.%s" % (header_b64, payload_b64)).encode("ascii"))


def test_jwks_publishes_ed25519_keys(server):
    jwks = server.client(None).request("GET", "/.well-known/jwks.json")  # needs no token
    assert isinstance(jwks["keys"], list) and jwks["keys"]
    for key in jwks["keys"]:
        assert key["kty"] == "OKP"
        assert key["crv"] == "Ed25519"
        assert key["kid"]
        assert len(b64url_decode(key["x"])) == 32
        assert "d" not in key  # never the private half
    resp = server.raw("GET", "/.well-known/jwks.json")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")


def test_jwks_verifies_issued_tokens(server, app, mint):
    jwks = server.client(None).request("GET", "/.well-known/jwks.json")
    for token in (server.admin_token, mint(app["id"])["token"], server.user_token()):
        header, claims, _ = jwt_parts(token)
        assert header["alg"] == "EdDSA"
        verify_with_jwks(jwks, token)
    # and a tampered one does not verify
    token = mint(app["id"], ["device.get"])["token"]
    h, p, s = token.split(".")
    tampered = "%s.%s.%s" % (h, p[:-2] + ("A" if p[-2] != "A" else "B") + p[-1], s)
    with pytest.raises((InvalidSignature, ValueError)):
        verify_with_jwks(jwks, tampered)


def test_introspect_wrong_method(server):
    raw_error(server.raw("POST", "/auth/introspect", token=server.admin_token), 405)
