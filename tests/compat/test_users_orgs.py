"""User tokens: users and organizations made by the admin CLI, and what each reaches (spec 3, 4)."""

from types import SimpleNamespace

import pytest

from conftest import assert_message_names, eventually, expect_error, future, random_id, unique


@pytest.fixture(scope="module")
def world(server):
    """alice and bob; org `acme` with member alice; an app of each and one of the org."""
    w = SimpleNamespace()
    w.alice_name, w.bob_name = unique("alice"), unique("bob")
    w.alice_id = server.create_user(w.alice_name)
    w.bob_id = server.create_user(w.bob_name)
    w.org_id = server.create_org(unique("acme"), w.alice_name)
    w.alice = server.client(server.user_token(w.alice_name))
    w.bob = server.client(server.user_token(w.bob_name))
    w.alice_app = w.alice.applications.post(application={"name": unique("alice-app")})
    w.org_app = w.alice.applications.post(application={"name": unique("org-app"), "orgId": w.org_id})
    w.bob_app = w.bob.applications.post(application={"name": unique("bob-app")})
    return w


def test_created_applications_have_their_owners(world):
    assert world.alice_app["ownerType"] == "user"
    assert world.alice_app["ownerId"] == world.alice_id
    assert world.org_app["ownerType"] == "organization"
    assert world.org_app["ownerId"] == world.org_id
    assert world.bob_app["ownerType"] == "user"
    assert world.bob_app["ownerId"] == world.bob_id


def test_user_token_record(server, world):
    me = world.alice.request("GET", "/auth/introspect")
    assert me["ownerType"] == "user"
    assert me["ownerId"] == world.alice_id
    assert me["scope"] == ["all.User"]
    assert me["active"] is True


def test_user_reaches_own_and_member_org_apps(world):
    for app in (world.alice_app, world.org_app):
        assert world.alice.application.get(applicationId=app["id"])["id"] == app["id"]
        made = world.alice.application_api_tokens.post(applicationId=app["id"], apiToken={"name": "mine"})
        assert made["ownerId"] == app["id"]
        listed = world.alice.application_api_tokens.get(applicationId=app["id"])
        assert made["id"] in [t["id"] for t in listed["items"]]
        assert world.alice.application_api_token.get(applicationId=app["id"], apiTokenId=made["id"])["name"] == "mine"


def test_others_get_404(admin, world):
    for outsider, app in (
        (world.bob, world.alice_app),
        (world.bob, world.org_app),
        (admin, world.org_app),  # admin is no member of acme
        (admin, world.alice_app),
        (world.alice, world.bob_app),
    ):
        expect_error(404, outsider.application.get, applicationId=app["id"])
        expect_error(404, outsider.application_api_tokens.get, applicationId=app["id"])
        expect_error(404, outsider.application_api_tokens.post, applicationId=app["id"], apiToken={"name": "x"})


def test_applications_list_shows_exactly_what_is_reachable(world):
    alice_ids = {a["id"] for a in world.alice.applications.get()["items"]}
    bob_ids = {a["id"] for a in world.bob.applications.get()["items"]}
    assert alice_ids == {world.alice_app["id"], world.org_app["id"]}
    assert bob_ids == {world.bob_app["id"]}


def test_applications_org_id_parameter(world):
    """Losant's orgId parameter on GET /applications: absent = all, blank = the user's own, an org = its."""
    ids = lambda body: {a["id"] for a in body["items"]}  # noqa: E731
    assert ids(world.alice.applications.get()) == {world.alice_app["id"], world.org_app["id"]}
    assert ids(world.alice.applications.get(orgId="")) == {world.alice_app["id"]}
    assert ids(world.alice.applications.get(orgId=world.org_id)) == {world.org_app["id"]}


def test_org_member_added_later_sees_nothing_more(server, world):
    # carol exists but belongs to no org: she reaches none of them
    carol = unique("carol")
    server.create_user(carol)
    client = server.client(server.user_token(carol))
    assert client.applications.get()["items"] == []
    expect_error(404, client.application_api_tokens.get, applicationId=world.org_app["id"])


def test_second_member_reaches_org_app(server, world):
    dave = unique("dave")
    server.create_user(dave)
    org2 = server.create_org(unique("org2"), dave, world.alice_name)
    dave_client = server.client(server.user_token(dave))
    # alice's token predates org2: the server may have her memberships cached briefly (its
    # auth cache); the new membership must show within a bounded time (spec 7 allows 1 s)
    shared = eventually(
        lambda: world.alice.applications.post(application={"name": unique("shared"), "orgId": org2}), timeout=1.5
    )
    assert dave_client.application.get(applicationId=shared["id"])["ownerId"] == org2
    made = dave_client.application_api_tokens.post(applicationId=shared["id"], apiToken={"name": "by dave"})
    assert made["ownerId"] == shared["id"]
    expect_error(404, dave_client.application.get, applicationId=world.org_app["id"])


def test_all_organization_acts_only_on_org_owned_apps(server, world):
    org_scoped = server.client(server.user_token(world.alice_name, ["all.Organization"]))
    # org-owned: everything
    listed = org_scoped.application_api_tokens.get(applicationId=world.org_app["id"])
    assert listed["ownerId"] == world.org_app["id"]
    made = org_scoped.application_api_tokens.post(applicationId=world.org_app["id"], apiToken={"name": "org"})
    assert made["scope"] == ["all.Application"]
    # her own (user-owned) app: within reach, but the scope does not act on it
    body = expect_error(403, org_scoped.application_api_tokens.get, applicationId=world.alice_app["id"])
    assert body["type"] == "Forbidden"
    expect_error(403, org_scoped.application_api_tokens.post, applicationId=world.alice_app["id"], apiToken={"name": "x"})
    # bob's app: out of reach
    expect_error(404, org_scoped.application_api_tokens.get, applicationId=world.bob_app["id"])

    introspected = org_scoped.request(
        "GET", "/auth/introspect", params={"applicationId": world.alice_app["id"], "action": "applicationApiTokens.get"}
    )
    assert introspected["allowed"] is False
    introspected = org_scoped.request(
        "GET", "/auth/introspect", params={"applicationId": world.org_app["id"], "action": "applicationApiTokens.get"}
    )
    assert introspected["allowed"] is True


def test_all_organization_read(server, world):
    reader = server.client(server.user_token(world.alice_name, ["all.Organization.read"]))
    assert reader.application_api_tokens.get(applicationId=world.org_app["id"])["ownerId"] == world.org_app["id"]
    expect_error(403, reader.application_api_tokens.post, applicationId=world.org_app["id"], apiToken={"name": "x"})
    expect_error(403, reader.application_api_tokens.get, applicationId=world.alice_app["id"])


def test_all_user_read(server, world):
    reader = server.client(server.user_token(world.alice_name, ["all.User.read"]))
    for app in (world.alice_app, world.org_app):
        assert reader.application_api_tokens.get(applicationId=app["id"])["ownerId"] == app["id"]
        expect_error(403, reader.application_api_tokens.post, applicationId=app["id"], apiToken={"name": "x"})


def test_all_user_cli_cannot_touch_api_tokens(server, world):
    # the choice where the spec is silent: .cli scopes grant everything except API-token actions
    cli = server.client(server.user_token(world.alice_name, ["all.User.cli"]))
    assert cli.application.get(applicationId=world.alice_app["id"])["id"] == world.alice_app["id"]
    expect_error(403, cli.application_api_tokens.get, applicationId=world.alice_app["id"])
    expect_error(403, cli.application_api_tokens.post, applicationId=world.alice_app["id"], apiToken={"name": "x"})


def test_create_application_in_foreign_org_is_400(world):
    body = expect_error(400, world.bob.applications.post, application={"name": "sneaky", "orgId": world.org_id})
    assert_message_names(body, "orgId")
    body = expect_error(400, world.bob.applications.post, application={"name": "sneaky", "orgId": random_id()})
    assert_message_names(body, "orgId")
    assert world.org_app["id"] not in {a["id"] for a in world.bob.applications.get()["items"]}


def test_app_token_of_org_app_reaches_only_it(server, world):
    token = world.alice.application_api_tokens.post(applicationId=world.org_app["id"], apiToken={"name": "org-app"})
    holder = server.client(token["token"])
    assert holder.application_api_tokens.get(applicationId=world.org_app["id"])["totalCount"] >= 1
    expect_error(404, holder.application_api_tokens.get, applicationId=world.alice_app["id"])
    expect_error(403, holder.applications.get)


def test_member_deletes_org_app_and_its_tokens_die(server, world):
    app = world.alice.applications.post(application={"name": unique("doomed"), "orgId": world.org_id})
    token = world.alice.application_api_tokens.post(applicationId=app["id"], apiToken={"name": "doomed"})
    holder = server.client(token["token"])
    assert holder.application.get(applicationId=app["id"])["id"] == app["id"]
    assert world.alice.application.delete(applicationId=app["id"]) == {"success": True}
    expect_error(401, holder.application_api_tokens.get, applicationId=app["id"])
    expect_error(404, world.alice.application.get, applicationId=app["id"])


def test_expiring_user_token(server, world):
    token = server.user_token(world.alice_name, expires=future(3600))
    client = server.client(token)
    me = client.request("GET", "/auth/introspect")
    assert me["expirationDate"]
    assert client.application.get(applicationId=world.alice_app["id"])["id"] == world.alice_app["id"]
