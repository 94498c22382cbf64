"""Applications: create, list, get, patch, delete (spec 1.4)."""

import time

from conftest import (
    ID_RE,
    assert_date,
    assert_message_names,
    expect_error,
    random_id,
    unique,
    validate,
)


def test_create_get_patch_delete(admin, admin_record):
    name = unique("Crud App")
    created = admin.applications.post(application={"name": name, "description": "first"})
    assert ID_RE.match(created["id"])
    assert created["applicationId"] == created["id"]
    assert created["name"] == name
    assert created["description"] == "first"
    assert created["ownerType"] == "user"
    assert created["ownerId"] == admin_record["ownerId"]
    assert_date(created["creationDate"])
    assert_date(created["lastUpdated"])

    got = admin.application.get(applicationId=created["id"])
    assert got == created

    time.sleep(0.005)  # lastUpdated has millisecond resolution
    patched = admin.application.patch(
        applicationId=created["id"], application={"name": name + " renamed", "description": "second"}
    )
    assert patched["id"] == created["id"]
    assert patched["name"] == name + " renamed"
    assert patched["description"] == "second"
    assert patched["creationDate"] == created["creationDate"]
    assert assert_date(patched["lastUpdated"]) > assert_date(created["lastUpdated"])
    assert admin.application.get(applicationId=created["id"])["name"] == name + " renamed"

    deleted = admin.application.delete(applicationId=created["id"])
    validate(deleted, "success.json")
    assert deleted == {"success": True}
    expect_error(404, admin.application.get, applicationId=created["id"])
    expect_error(404, admin.application.delete, applicationId=created["id"])
    expect_error(404, admin.application_api_tokens.get, applicationId=created["id"])


def test_list_applications(admin):
    tag = unique("listapps")
    names = [tag + "-b", tag + "-A", tag + "-c"]
    ids = {admin.applications.post(application={"name": n})["id"]: n for n in names}

    # Unfiltered: every application the admin reaches, which on a shared
    # database may be more than one page holds, so every page is read.
    everything = admin.applications.get(perPage=1000)
    total = everything["totalCount"]
    assert total >= 3
    assert everything["count"] == len(everything["items"]) == min(total, 1000)
    listed = {a["id"] for a in everything["items"]}
    for page in range(1, (total + 999) // 1000):
        more = admin.applications.get(perPage=1000, page=page)
        assert more["totalCount"] == total
        listed |= {a["id"] for a in more["items"]}
    assert len(listed) == total
    assert set(ids) <= listed

    filtered = admin.applications.get(filterField="name", filter=tag.upper() + "*")
    assert [a["name"] for a in filtered["items"]] == [tag + "-A", tag + "-b", tag + "-c"]
    assert filtered["totalCount"] == 3
    assert filtered["count"] == 3

    desc = admin.applications.get(filterField="name", filter=tag + "*", sortDirection="desc")
    assert [a["name"] for a in desc["items"]] == [tag + "-c", tag + "-b", tag + "-A"]

    by_id = admin.applications.get(filterField="name", filter=tag + "*", sortField="id")
    assert [a["id"] for a in by_id["items"]] == sorted(ids)

    page = admin.applications.get(filterField="name", filter=tag + "*", perPage=2, page=1)
    assert [a["name"] for a in page["items"]] == [tag + "-c"]
    assert page["totalCount"] == 3 and page["count"] == 1


def test_list_applications_rejects_token_only_params(admin):
    # spec 1.4: applications sort by name, id, creationDate, lastUpdated; filter by name
    body = expect_error(400, admin.applications.get, sortField="status")
    assert_message_names(body, "sortField")
    body = expect_error(400, admin.applications.get, filterField="status", filter="x")
    assert_message_names(body, "filterField")
    body = expect_error(400, admin.applications.get, perPage="0")
    assert_message_names(body, "perPage")
    body = expect_error(400, admin.applications.get, sortDirection="sideways")
    assert_message_names(body, "sortDirection")


def test_list_applications_duplicated_param_is_400(server):
    resp = server.raw("GET", "/applications", token=server.admin_token, params=[("page", "0"), ("page", "1")])
    assert resp.status_code == 400, resp.text
    assert resp.json()["type"] == "Validation" and "page" in resp.json()["message"]


def test_create_application_bad_bodies(admin):
    expect_error(400, admin.applications.post, application={})
    expect_error(400, admin.applications.post, application={"name": ""})
    expect_error(400, admin.applications.post, application=["name"])
    expect_error(400, admin.applications.post)  # no body at all
    body = expect_error(400, admin.applications.post, application={"name": "x", "orgId": "nothex"})
    assert_message_names(body, "orgId")


def test_delete_application_kills_its_tokens_at_once(server, admin, app, mint):
    token = mint(app["id"])
    holder = server.client(token["token"])
    assert holder.application_api_tokens.get(applicationId=app["id"])["totalCount"] == 1
    admin.application.delete(applicationId=app["id"])
    expect_error(401, holder.application_api_tokens.get, applicationId=app["id"])
    expect_error(404, admin.application_api_token.get, applicationId=app["id"], apiTokenId=token["id"])


def test_application_token_on_applications_collection_is_403(server, app, mint):
    holder = server.client(mint(app["id"], ["all.Application"])["token"])
    expect_error(403, holder.applications.get)
    expect_error(403, holder.applications.post, application={"name": unique("nope")})
    # ... while it can read its own application
    assert holder.application.get(applicationId=app["id"])["id"] == app["id"]


def test_application_scopes(server, app, mint):
    reader = server.client(mint(app["id"], ["all.Application.read"])["token"])
    assert reader.application.get(applicationId=app["id"])["name"] == app["name"]
    expect_error(403, reader.application.patch, applicationId=app["id"], application={"name": "nope"})
    expect_error(403, reader.application.delete, applicationId=app["id"])

    patcher = server.client(mint(app["id"], ["application.patch"])["token"])
    expect_error(403, patcher.application.get, applicationId=app["id"])
    renamed = patcher.application.patch(applicationId=app["id"], application={"name": "renamed by token"})
    assert renamed["name"] == "renamed by token"


def test_unknown_application(admin):
    expect_error(404, admin.application.get, applicationId=random_id())
    expect_error(404, admin.application.patch, applicationId=random_id(), application={"name": "x"})
    expect_error(404, admin.application.delete, applicationId=random_id())
    body = expect_error(400, admin.application.get, applicationId="not-an-id")
    assert_message_names(body, "applicationId")
