"""The audit log through the official client: `client.audit_logs.get` and
`client.audit_log.get` (an organization's), and the same for one application
through plain requests; Losant's sorts, paging, time range and auditLogFilter
(sent by the client in bracket notation)."""

from types import SimpleNamespace

import pytest

from conftest import (
    assert_message_names,
    eventually,
    expect_error,
    parse_date,
    random_id,
    raw_error,
    unique,
    validate,
)

SORT_FIELDS = ["creationDate", "responseStatus", "actorName"]


@pytest.fixture(scope="module")
def world(server):
    """An organization with member alice, changes and refusals in it, and bob outside."""
    w = SimpleNamespace()
    alice_name, bob_name = unique("alice"), unique("bob")
    server.create_user(alice_name)
    server.create_user(bob_name)
    w.org_id = server.create_org(unique("acme"), alice_name)
    w.alice_token = server.user_token(alice_name)
    w.alice = server.client(w.alice_token)
    w.bob = server.client(server.user_token(bob_name))
    w.app = w.alice.applications.post(application={"name": unique("audited"), "orgId": w.org_id})
    app_id = w.app["id"]
    tokens = w.alice.application_api_tokens
    w.ingest = tokens.post(applicationId=app_id, apiToken={"name": "ingest", "scope": ["device.get"]})
    w.narrow = tokens.post(applicationId=app_id, apiToken={"name": "narrow", "scope": ["applicationApiTokens.post"]})
    w.alice.application_api_token.patch(
        applicationId=app_id, apiTokenId=w.ingest["id"], apiToken={"description": "renamed"}
    )
    narrow = server.client(w.narrow["token"])
    expect_error(403, narrow.application_api_tokens.post, applicationId=app_id, apiToken={"name": "broad"})
    expect_error(
        404, w.alice.application_api_token.patch, applicationId=app_id, apiTokenId=random_id(), apiToken={"name": "x"}
    )
    w.alice.application_api_token.delete(applicationId=app_id, apiTokenId=w.ingest["id"])

    def every_entry():
        listing = w.alice.audit_logs.get(orgId=w.org_id, perPage=1000)
        statuses = {item["responseStatus"] for item in listing["items"]}
        # Refusals are written just after their response.
        assert {403, 404} <= statuses, statuses
        return listing["items"]

    w.entries = eventually(every_entry, timeout=10)
    return w


def ids(items):
    return [item["id"] for item in items]


def expected_order(entries, field, direction):
    """Sorted by the field, ties broken by id, both in the direction."""
    return ids(sorted(entries, key=lambda e: (e[field], e["id"]), reverse=(direction == "desc")))


def test_the_entries_are_losants_wire_format(world):
    listing = world.alice.audit_logs.get(orgId=world.org_id)
    validate(listing, "auditLogs.json")
    assert listing["orgId"] == world.org_id
    assert (listing["sortField"], listing["sortDirection"], listing["perPage"], listing["page"]) == (
        "creationDate",
        "desc",
        100,
        0,
    )
    assert listing["count"] == len(listing["items"]) == listing["totalCount"] == len(world.entries)
    kinds = {(e["requestResource"], e["requestAction"], e["responseStatus"]) for e in world.entries}
    for expected in [
        ("applications", "post", 201),
        ("applicationApiTokens", "post", 201),
        ("applicationApiTokens", "post", 403),
        ("applicationApiToken", "patch", 200),
        ("applicationApiToken", "patch", 404),
        ("applicationApiToken", "delete", 200),
    ]:
        assert expected in kinds, (expected, kinds)
    for entry in world.entries:
        validate(entry, "auditLog.json")
        assert entry["orgId"] == world.org_id
        assert world.ingest["token"] not in str(entry) and world.narrow["token"] not in str(entry)


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("field", SORT_FIELDS)
def test_every_sort_field_and_direction(world, field, direction):
    listing = world.alice.audit_logs.get(orgId=world.org_id, sortField=field, sortDirection=direction)
    assert (listing["sortField"], listing["sortDirection"]) == (field, direction)
    assert ids(listing["items"]) == expected_order(world.entries, field, direction)


def test_paging(world):
    order = expected_order(world.entries, "creationDate", "desc")
    paged, page = [], 0
    while True:
        listing = world.alice.audit_logs.get(orgId=world.org_id, perPage=2, page=page)
        assert listing["totalCount"] == len(order) and listing["perPage"] == 2
        if not listing["items"]:
            break
        paged += ids(listing["items"])
        page += 1
    assert paged == order
    assert page == (len(order) + 1) // 2


def epoch_ms(entry):
    return int(parse_date(entry["creationDate"]).timestamp() * 1000)


def test_time_ranges(world):
    times = sorted({epoch_ms(e) for e in world.entries})
    middle = times[len(times) // 2]

    def within(start=None, end=None):
        kept = [
            e
            for e in world.entries
            if (start is None or epoch_ms(e) >= start) and (end is None or epoch_ms(e) <= end)
        ]
        return sorted(ids(kept))

    for params in [
        {"start": middle},
        {"end": middle},
        {"start": times[0], "end": times[0]},
        {"start": middle, "end": times[-1]},
        {"start": times[-1] + 1},
        {"start": middle, "end": middle - 1},
    ]:
        listing = world.alice.audit_logs.get(orgId=world.org_id, **params)
        assert sorted(ids(listing["items"])) == within(params.get("start"), params.get("end")), params
        assert listing["totalCount"] == len(listing["items"])


def matching(entries, keep):
    return sorted(ids(e for e in entries if keep(e)))


def test_each_kind_of_filter(world):
    app_id, ingest_id, narrow_id = world.app["id"], world.ingest["id"], world.narrow["id"]
    alice_token_id = world.alice.request("GET", "/auth/introspect")["id"]
    cases = [
        ({"primaryTarget": [{"id": app_id, "type": "Application"}]}, lambda e: e.get("primaryTargetId") == app_id),
        ({"primaryTarget": [{"type": "Dashboard"}]}, lambda e: False),
        ({"secondaryTarget": [{"id": ingest_id}]}, lambda e: e.get("secondaryTargetId") == ingest_id),
        (
            {"secondaryTarget": [{"name": "ingest"}, {"name": "narrow"}]},
            lambda e: e.get("secondaryTargetName") in ("ingest", "narrow"),
        ),
        ({"actor": [{"id": narrow_id, "type": "ApiToken"}]}, lambda e: e.get("actorId") == narrow_id),
        ({"actor": [{"id": alice_token_id}]}, lambda e: e.get("actorId") == alice_token_id),
        (
            {"request": [{"resource": "applicationApiToken", "action": "patch"}]},
            lambda e: (e["requestResource"], e["requestAction"]) == ("applicationApiToken", "patch"),
        ),
        (
            {"request": [{"action": "delete"}, {"resource": "applications"}]},
            lambda e: e["requestAction"] == "delete" or e["requestResource"] == "applications",
        ),
        ({"responseCode": [403, 404]}, lambda e: e["responseStatus"] in (403, 404)),
        (
            {"responseCode": [201], "actor": [{"id": alice_token_id}]},
            lambda e: e["responseStatus"] == 201 and e.get("actorId") == alice_token_id,
        ),
    ]
    for audit_filter, keep in cases:
        listing = world.alice.audit_logs.get(orgId=world.org_id, auditLogFilter=audit_filter)
        expected = matching(world.entries, keep)
        assert sorted(ids(listing["items"])) == expected, audit_filter
        assert listing["totalCount"] == len(expected)
    # Not vacuous: the filters above did pick something apart.
    assert 0 < len(matching(world.entries, lambda e: e["responseStatus"] in (403, 404))) < len(world.entries)


def test_one_entry(world):
    entry = world.entries[-1]
    got = world.alice.audit_log.get(orgId=world.org_id, auditLogId=entry["id"])
    validate(got, "auditLog.json")
    assert got == entry
    expect_error(404, world.alice.audit_log.get, orgId=world.org_id, auditLogId=random_id())
    expect_error(400, world.alice.audit_log.get, orgId=world.org_id, auditLogId="not-an-id")


def test_organizations_out_of_reach_are_404(world, admin):
    for client in (world.bob, admin):
        body = expect_error(404, client.audit_logs.get, orgId=world.org_id)
        assert_message_names(body, "organization")
        expect_error(404, client.audit_log.get, orgId=world.org_id, auditLogId=world.entries[0]["id"])
    expect_error(404, world.alice.audit_logs.get, orgId=random_id())


@pytest.mark.parametrize(
    "params, named",
    [
        ({"sortField": "name"}, "sortField"),
        ({"sortDirection": "sideways"}, "sortDirection"),
        ({"perPage": 0}, "perPage"),
        ({"perPage": 1001}, "perPage"),
        ({"page": -1}, "page"),
        ({"start": "yesterday"}, "start"),
        ({"end": "1.5"}, "end"),
        ({"auditLogFilter": {"device": [{"id": "x"}]}}, "auditLogFilter"),
        ({"auditLogFilter": {"actor": [{"color": "red"}]}}, "auditLogFilter"),
        ({"auditLogFilter": {"actor": [{"type": "Robot"}]}}, "auditLogFilter[actor][0][type]"),
        ({"auditLogFilter": {"actor": [{"id": "nope"}]}}, "auditLogFilter[actor][0][id]"),
        ({"auditLogFilter": {"responseCode": [99]}}, "auditLogFilter[responseCode][0]"),
        ({"auditLogFilter": {"responseCode": list(range(200, 221))}}, "auditLogFilter[responseCode]"),
    ],
)
def test_bad_parameters_are_400(world, params, named):
    body = expect_error(400, world.alice.audit_logs.get, orgId=world.org_id, **params)
    assert_message_names(body, named)


def test_one_applications_log(server, world):
    path = "/applications/%s/audit-logs" % world.app["id"]
    listing = server.raw("GET", path, token=world.alice_token, params={"sortDirection": "asc"}).json()
    validate(listing, "auditLogs.json")
    assert listing["applicationId"] == world.app["id"]
    about_app = [e for e in world.entries if e.get("primaryTargetId") == world.app["id"]]
    assert ids(listing["items"]) == expected_order(about_app, "creationDate", "asc")
    one = server.raw("GET", "%s/%s" % (path, about_app[0]["id"]), token=world.alice_token).json()
    assert one == about_app[0]
    raw_error(server.raw("GET", path, token=world.narrow["token"]), 403)
    bob_token = world.bob.auth_token
    raw_error(server.raw("GET", path, token=bob_token), 404)
