"""Listings are the API's, page by page: every sort field in both
directions shows the order the API gives for the same parameters; the
status filter, the page size and paging go to the server; applications are
listed, renamed and deleted (after a confirmation)."""

import time

import pytest
from console_api import Api, unique
from playwright.sync_api import expect

# The server writes last uses every 5 s by default.
LAST_USE_WAIT_S = 30

SORT_FIELDS = {
    "Name": "name",
    "Status": "status",
    "Created": "creationDate",
    "Last updated": "lastUpdated",
    "Expires": "expirationDate",
    "Last used": "lastUsed",
    "ID": "id",
}


@pytest.fixture
def application_with_tokens(server, admin_token):
    """An application with 12 tokens of varied names, statuses and expiries;
    two of them used (so lastUsed differs)."""
    api = Api(server.url, admin_token)
    application = api.create_application(unique("Listing"))
    tokens = []
    for index in range(12):
        fields = {"status": "inactive"} if index % 3 == 0 else {}
        if index % 4 == 1:
            fields["expirationDate"] = "20%02d-01-01T00:00:00.000Z" % (40 + index)
        tokens.append(api.create_token(application["id"], "token %02d %s" % ((index * 7) % 12, "ABCabc"[index % 6]), **fields))
    for used in (tokens[1], tokens[5]):
        assert api.call("GET", "/auth/introspect", token=used["token"]).status_code == 200
    # Uses are written every few seconds: wait until both are, so the
    # console and the API see the same lastUsed order.
    deadline = time.monotonic() + LAST_USE_WAIT_S
    while sum("lastUsed" in token for token in api.tokens(application["id"])["items"]) < 2:
        assert time.monotonic() < deadline, "the two uses were not written within %d s" % LAST_USE_WAIT_S
        time.sleep(0.1)
    return api, application


def table_names(page):
    return page.get_by_role("region", name="Tokens").locator("tbody tr td:first-child").all_text_contents()


def test_every_sort_field_and_direction_is_the_apis_order(page, admin_token, sign_in, application_with_tokens):
    api, application = application_with_tokens
    sign_in(page, admin_token)
    page.goto("/console/#/applications/%s" % application["id"])
    expect(page.get_by_role("status")).to_have_text("1–12 of 12 tokens")
    for label, field in SORT_FIELDS.items():
        for direction_label, direction in (("Ascending", "asc"), ("Descending", "desc")):
            page.get_by_label("Sort by").select_option(label=label)
            page.get_by_label("Direction").select_option(label=direction_label)
            page.get_by_role("button", name="Apply").click()
            expected = [token["name"] for token in api.tokens(application["id"], sortField=field, sortDirection=direction)["items"]]
            expect(page.get_by_role("region", name="Tokens").locator("tbody tr td:first-child")).to_have_text(expected)
            assert "sortField=%s&sortDirection=%s" % (field, direction) in page.url


def test_status_filter_page_size_and_paging(page, admin_token, sign_in, application_with_tokens, axe, screenshot):
    api, application = application_with_tokens
    sign_in(page, admin_token)
    page.goto("/console/#/applications/%s" % application["id"])
    page.get_by_label("Filter on").select_option(label="Status")
    page.get_by_label("Filter", exact=True).fill("INACT*")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_have_text("1–4 of 4 tokens")
    rows = page.get_by_role("region", name="Tokens").locator("tbody tr")
    expect(rows.filter(has_text="inactive")).to_have_count(4)

    page.get_by_label("Filter", exact=True).fill("")
    page.get_by_label("Per page").select_option("10")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_have_text("1–10 of 12 tokens")
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    expect(page.get_by_role("button", name="Previous page")).to_be_disabled()
    first_page = table_names(page)
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_role("status")).to_have_text("11–12 of 12 tokens")
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    assert "page=1" in page.url and "perPage=10" in page.url
    every_name = [token["name"] for token in api.tokens(application["id"])["items"]]
    assert first_page + table_names(page) == every_name
    axe(page)

    # The address keeps the listing: a reload shows the same page.
    page.reload()
    expect(page.get_by_role("status")).to_have_text("11–12 of 12 tokens")
    page.get_by_role("button", name="First page").click()
    expect(page.get_by_role("status")).to_have_text("1–10 of 12 tokens")


def test_applications_are_listed_renamed_and_deleted(page, server, admin_token, sign_in, axe, screenshot):
    api = Api(server.url, admin_token)
    prefix = unique("Console app")
    for suffix in ("b", "a", "c"):
        api.create_application("%s %s" % (prefix, suffix))
    sign_in(page, admin_token)
    page.get_by_label("Name filter").fill(prefix + "*")
    page.get_by_label("Direction").select_option(label="Descending")
    page.get_by_role("button", name="Apply").click()
    applications = page.get_by_role("region", name="Applications")
    expect(applications.locator("tbody tr td:first-child")).to_have_text(["%s %s" % (prefix, s) for s in "cba"])
    axe(page)
    screenshot(page, "applications")

    applications.get_by_role("link", name=prefix + " a").click()
    page.get_by_role("navigation", name="Application").get_by_role("link", name="Settings").click()
    page.get_by_label("Application name").fill(prefix + " renamed")
    page.get_by_role("button", name="Save application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(prefix + " renamed")
    axe(page)
    screenshot(page, "application-settings")

    page.get_by_role("button", name="Delete application").click()
    dialog = page.get_by_role("dialog", name="Delete this application?")
    expect(dialog).to_contain_text("every one of its tokens will be deleted")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_have_text(prefix + " renamed")

    page.get_by_role("button", name="Delete application").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Applications")
    names = [a["name"] for a in api.ok("GET", "/applications", params={"filterField": "name", "filter": prefix + "*"})["items"]]
    assert names == [prefix + " b", prefix + " c"]
