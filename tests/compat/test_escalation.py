"""No privilege escalation (spec 5)."""

import pytest

from conftest import assert_message_names, expect_error, unique


@pytest.fixture
def limited(server, app, mint):
    """A token holding only applicationApiTokens.post and device.sendState."""
    created = mint(app["id"], ["applicationApiTokens.post", "device.sendState"])
    return server.client(created["token"]), created


def test_cannot_mint_all_application(limited, app):
    client, _ = limited
    body = expect_error(
        403,
        client.application_api_tokens.post,
        applicationId=app["id"],
        apiToken={"name": "escalated", "scope": ["all.Application"]},
    )
    assert_message_names(body, "all.Application")
    # absent scope means all.Application: refused too
    body = expect_error(403, client.application_api_tokens.post, applicationId=app["id"], apiToken={"name": "x"})
    assert_message_names(body, "all.Application")


def test_can_mint_what_it_has(server, admin, limited, app):
    client, creator = limited
    child = client.application_api_tokens.post(
        applicationId=app["id"], apiToken={"name": "child", "scope": ["device.sendState"]}
    )
    assert child["scope"] == ["device.sendState"]
    assert child["creatorType"] == "apiToken"
    assert child["creatorId"] == creator["id"]
    assert child["creatorName"] == creator["name"]
    assert child["token"]
    # the child is real: its record is listed and it authenticates
    listed = admin.application_api_tokens.get(applicationId=app["id"], filterField="name", filter="child")
    assert [t["id"] for t in listed["items"]] == [child["id"]]
    me = server.client(child["token"]).request("GET", "/auth/introspect")
    assert me["id"] == child["id"] and me["active"] is True

    same = client.application_api_tokens.post(
        applicationId=app["id"],
        apiToken={"name": "copy", "scope": ["applicationApiTokens.post", "device.sendState"]},
    )
    assert same["scope"] == ["applicationApiTokens.post", "device.sendState"]


@pytest.mark.parametrize(
    "requested,named",
    [
        (["device.*"], ["device.*"]),
        (["all.Device"], ["all.Device"]),
        (["device.sendState", "device.get"], ["device.get"]),
        (["applicationApiTokens.*"], ["applicationApiTokens.*"]),
        (["applicationApiTokens.get"], ["applicationApiTokens.get"]),
        (["all.Application.read"], ["all.Application.read"]),
        (["all.Application.cli"], ["all.Application.cli"]),
        (["device.sendState", "all.Device.read", "flows.get"], ["all.Device.read", "flows.get"]),
    ],
)
def test_refused_scopes_are_named(limited, app, admin, requested, named):
    client, _ = limited
    before = admin.application_api_tokens.get(applicationId=app["id"])["totalCount"]
    body = expect_error(
        403,
        client.application_api_tokens.post,
        applicationId=app["id"],
        apiToken={"name": "x", "scope": requested},
    )
    assert_message_names(body, *named)
    assert admin.application_api_tokens.get(applicationId=app["id"])["totalCount"] == before


@pytest.mark.parametrize(
    "holder_scope,ok,refused",
    [
        (
            ["all.Application.read", "applicationApiTokens.post"],
            [["all.Application.read"], ["all.Device.read"], ["device.getState"], ["applicationApiTokens.get"]],
            [["all.Device"], ["application.patch"], ["all.Application"], ["device.*"]],
        ),
        (
            ["applicationApiTokens.*"],
            [["applicationApiTokens.get"], ["applicationApiTokens.post"], ["applicationApiTokens.*"]],
            [["applicationApiToken.get"], ["applicationApiToken.*"], ["all.Application.read"]],
        ),
        (
            ["all.Device", "applicationApiTokens.post"],
            [["all.Device"], ["all.Device.read"], ["devices.post"], ["deviceRecipe.*"], ["data.export"]],
            [["flows.get"], ["all.Application.read"], ["application.get"]],
        ),
        (
            # .cli grants every action but the API-token ones (a choice where the spec is silent),
            # so an all.Application token may hand it out
            ["all.Application"],
            [["all.Application.cli"], ["all.Application"], ["all.Device"]],
            [],
        ),
    ],
)
def test_escalation_matrix(server, app, mint, holder_scope, ok, refused):
    client = server.client(mint(app["id"], holder_scope)["token"])
    for scope in ok:
        made = client.application_api_tokens.post(applicationId=app["id"], apiToken={"name": "ok", "scope": scope})
        assert made["scope"] == scope
    for scope in refused:
        body = expect_error(
            403, client.application_api_tokens.post, applicationId=app["id"], apiToken={"name": "no", "scope": scope}
        )
        assert_message_names(body, scope[0])


def test_patch_may_not_reactivate_what_it_could_not_create(server, admin, app, mint):
    caller = server.client(
        mint(app["id"], ["applicationApiTokens.post", "applicationApiToken.patch", "device.sendState"])["token"]
    )
    powerful = mint(app["id"], ["all.Application"], status="inactive")

    body = expect_error(
        403,
        caller.application_api_token.patch,
        applicationId=app["id"],
        apiTokenId=powerful["id"],
        apiToken={"status": "active"},
    )
    assert_message_names(body, "all.Application")
    got = admin.application_api_token.get(applicationId=app["id"], apiTokenId=powerful["id"])
    assert got["status"] == "inactive"
    expect_error(401, server.client(powerful["token"]).application_api_tokens.get, applicationId=app["id"])

    # renaming it is no escalation
    renamed = caller.application_api_token.patch(
        applicationId=app["id"], apiTokenId=powerful["id"], apiToken={"name": "renamed"}
    )
    assert renamed["name"] == "renamed" and renamed["status"] == "inactive"

    # a token it could have created: re-activation allowed
    modest = mint(app["id"], ["device.sendState"], status="inactive")
    back = caller.application_api_token.patch(
        applicationId=app["id"], apiTokenId=modest["id"], apiToken={"status": "active"}
    )
    assert back["status"] == "active"
    assert server.client(modest["token"]).request("GET", "/auth/introspect")["active"] is True


def test_deactivating_a_stronger_token_is_no_escalation(server, admin, app, mint):
    caller = server.client(mint(app["id"], ["applicationApiToken.patch"])["token"])
    powerful = mint(app["id"], ["all.Application"])
    res = caller.application_api_token.patch(
        applicationId=app["id"], apiTokenId=powerful["id"], apiToken={"status": "inactive"}
    )
    assert res["status"] == "inactive"
    expect_error(401, server.client(powerful["token"]).application_api_tokens.get, applicationId=app["id"])


def test_user_token_with_few_scopes_cannot_escalate(server, app):
    # a user token (minted by the admin CLI) is held to the same rule
    user_token = server.user_token("admin", ["applicationApiTokens.post", "device.sendState"])
    client = server.client(user_token)
    body = expect_error(
        403,
        client.application_api_tokens.post,
        applicationId=app["id"],
        apiToken={"name": "x", "scope": ["all.Application"]},
    )
    assert_message_names(body, "all.Application")
    made = client.application_api_tokens.post(
        applicationId=app["id"], apiToken={"name": unique("ok"), "scope": ["device.sendState"]}
    )
    assert made["scope"] == ["device.sendState"]
