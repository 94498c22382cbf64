"""Issue 12's whole flow, as a person does it in the console: sign in, create
an application, create a token and copy its secret, use that secret against
/auth/introspect, find the token by filter and sort, deactivate it and see
the API refuse it, delete it, sign out. Every control is found by its role
and accessible name, as a screen reader finds it; axe-core checks each page
and each page is photographed."""

import re

from console_api import Api, unique
from playwright.sync_api import expect


def test_the_whole_flow(page, server, admin_token, sign_in, axe, screenshot):
    api = Api(server.url, admin_token)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    sign_in(page, admin_token)
    expect(page.get_by_role("heading", level=1)).to_have_text("Applications")
    axe(page)

    # An application
    application_name = unique("Weather Station")
    page.get_by_label("Application name").fill(application_name)
    page.get_by_role("button", name="Create application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(application_name)
    application_id = re.search(r"#/applications/([0-9a-f]{24})", page.url).group(1)
    expect(page.get_by_text("No tokens on this page (0 in all).")).to_be_visible()

    # A token that may read the application's token list, expiring in 30 days
    page.get_by_role("link", name="New token").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New token")
    page.get_by_label("Token name").fill("flow reader")
    page.get_by_label("Token description (optional)").fill("made by the console flow test")
    page.get_by_role("radio", name="In 30 days").check()
    page.get_by_role("radio", name="Custom").check()
    page.get_by_label("Search scopes").fill("applicationApiTokens.g")
    expect(page.get_by_role("checkbox", name="applicationApiToken.get", exact=True)).to_be_hidden()
    page.get_by_role("checkbox", name="applicationApiTokens.get", exact=True).check()
    expect(page.get_by_text("1 scope chosen")).to_be_visible()
    axe(page)
    screenshot(page, "new-token")
    page.get_by_role("button", name="Create token").click()

    # Its secret, shown once; copied to the clipboard
    expect(page.get_by_role("heading", level=1)).to_have_text("Token created")
    expect(page.get_by_role("alert")).to_contain_text("It is shown only this once")
    secret = page.get_by_label("Secret of").input_value()
    assert secret.startswith("eyJ") and secret.count(".") == 2, secret
    page.get_by_role("button", name="Copy secret").click()
    expect(page.get_by_role("status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("() => navigator.clipboard.readText()") == secret
    axe(page)
    screenshot(page, "token-created")

    # The secret works, and may do what its scope says
    introspected = api.call(
        "GET",
        "/auth/introspect",
        params={"applicationId": application_id, "action": "applicationApiTokens.get"},
        token=secret,
    )
    assert introspected.status_code == 200, introspected.text
    assert introspected.json()["allowed"] is True
    assert introspected.json()["scope"] == ["applicationApiTokens.get"]

    # Leaving the page forgets the secret
    page.get_by_role("link", name="Back to the tokens").click()
    expect(page.get_by_text(secret)).to_have_count(0)
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("New token")
    expect(page.get_by_label("Token name")).to_have_value("")

    # Others beside it, so finding it takes the filter and the sort
    for name in ("flow writer", "other one", "Flow zeta"):
        api.create_token(application_id, name)
    page.get_by_role("link", name="Back to the tokens").click()
    tokens = page.get_by_role("region", name="Tokens")
    expect(tokens.get_by_role("row")).to_have_count(5)  # the header and four tokens
    page.get_by_label("Filter", exact=True).fill("flow*")
    page.get_by_label("Sort by").select_option(label="Name")
    page.get_by_label("Direction").select_option(label="Descending")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_have_text("1–3 of 3 tokens")
    names = tokens.locator("tbody tr td:first-child")
    expect(names).to_have_text(["Flow zeta", "flow writer", "flow reader"])
    expect(tokens.get_by_role("columnheader", name="Name")).to_have_attribute("aria-sort", "descending")
    assert "filter=flow*" in page.url.replace("%2A", "*") and "sortField=name&sortDirection=desc" in page.url
    axe(page)
    screenshot(page, "tokens")

    # Its page; deactivated, the API refuses it
    tokens.get_by_role("link", name="flow reader").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("flow reader")
    expect(page.get_by_text("made by the console flow test")).to_be_visible()
    axe(page)
    screenshot(page, "token")
    page.get_by_role("button", name="Deactivate token").click()
    expect(page.get_by_role("status")).to_have_text("Deactivated.")
    expect(page.get_by_role("button", name="Re-activate token")).to_be_visible()
    refused = api.call("GET", "/auth/introspect", token=secret)
    assert refused.status_code == 401, refused.text
    assert refused.json() == {"type": "Unauthorized", "message": "the token is inactive"}

    # Deleted, after a confirmation that can be cancelled
    page.get_by_role("button", name="Delete token").click()
    dialog = page.get_by_role("dialog", name="Delete this token?")
    expect(dialog).to_be_visible()
    axe(page)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_have_text("flow reader")
    page.get_by_role("button", name="Delete token").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete token").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(application_name)
    expect(page.get_by_role("region", name="Tokens").get_by_role("link", name="flow reader")).to_have_count(0)
    assert [token["name"] for token in api.tokens(application_id)["items"]] == ["flow writer", "Flow zeta", "other one"]

    # Signed out, the token is forgotten
    assert page.evaluate("() => sessionStorage.length") == 1
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API token")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0
    page.reload()
    expect(page.get_by_label("API token")).to_be_visible()
