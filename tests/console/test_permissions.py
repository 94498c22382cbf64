"""What the signed-in token may do shapes the page: controls for actions
its scopes do not grant are absent or disabled, with the reason said next to
them; what the API refuses anyway (an escalation) is shown in words, never
as raw JSON or a blank page."""

from console_api import Api, unique
from playwright.sync_api import expect


def test_a_read_only_application_token_sees_what_it_may_do_and_why_not_the_rest(
    page, server, admin_token, sign_in, axe, screenshot
):
    api = Api(server.url, admin_token)
    application = api.create_application(unique("Read only"))
    reader = api.create_token(application["id"], "reader", scope=["all.Application.read"])
    api.create_token(application["id"], "target")

    sign_in(page, reader["token"])
    # An application token lands on its one application: no applications list.
    expect(page.get_by_role("heading", level=1)).to_have_text(application["name"])
    expect(page.get_by_text("(application token)")).to_be_visible()
    expect(page.get_by_role("link", name="Applications")).to_have_count(0)
    expect(page.get_by_role("link", name="New token")).to_have_count(0)
    expect(page.get_by_text("Creating tokens is not available: this token's scopes do not grant applicationApiTokens.post.")).to_be_visible()
    axe(page)
    screenshot(page, "read-only-tokens")

    page.get_by_role("region", name="Tokens").get_by_role("link", name="target").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("target")
    for button, action in (
        ("Save", "applicationApiToken.patch"),
        ("Deactivate token", "applicationApiToken.patch"),
        ("Delete token", "applicationApiToken.delete"),
    ):
        control = page.get_by_role("button", name=button)
        expect(control).to_be_disabled()
        expect(control).to_have_accessible_description(
            "%s is not available: this token's scopes do not grant %s." % (button, action)
        )
    expect(page.get_by_label("Name", exact=True)).to_be_disabled()
    axe(page)
    screenshot(page, "read-only-token")

    # The audit log is for user tokens only: the tab says so instead of a 403.
    page.get_by_role("link", name="Back to the tokens").click()
    page.get_by_role("navigation", name="Application").get_by_role("link", name="Audit log").click()
    expect(page.get_by_text("The audit log can be read only with a user token")).to_be_visible()
    refused = api.call("GET", "/applications/%s/audit-logs" % application["id"], token=reader["token"])
    assert refused.status_code == 403, refused.text

    page.get_by_role("navigation", name="Application").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("button", name="Delete application")).to_be_disabled()
    expect(page.get_by_text("Renaming the application is not available")).to_be_visible()
    axe(page)


def test_an_escalation_is_refused_in_words(page, server, admin_token, sign_in, axe):
    api = Api(server.url, admin_token)
    application = api.create_application(unique("Escalation"))
    minter = api.create_token(
        application["id"], "minter", scope=["applicationApiTokens.get", "applicationApiTokens.post", "device.get"]
    )

    sign_in(page, minter["token"])
    page.get_by_role("link", name="New token").click()
    page.get_by_label("Token name").fill("wants everything")
    expect(page.get_by_role("radio", name="All")).to_be_checked()
    page.get_by_role("button", name="Create token").click()

    error = page.get_by_role("alert")
    expect(error).to_contain_text("Forbidden (403): ")
    expect(error).to_contain_text("all.Application")
    assert "{" not in error.text_content(), error.text_content()
    axe(page)

    # A scope it holds, it may give.
    page.get_by_role("radio", name="Custom").check()
    page.get_by_role("checkbox", name="device.get", exact=True).check()
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Token created")


def test_a_token_revoked_mid_session_ends_it_with_the_reason(page, server, admin_token, sign_in):
    api = Api(server.url, admin_token)
    application = api.create_application(unique("Revoked"))
    token = api.create_token(application["id"], "soon revoked")

    sign_in(page, token["token"])
    expect(page.get_by_role("heading", level=1)).to_have_text(application["name"])
    api.ok("PATCH", "/applications/%s/tokens/%s" % (application["id"], token["id"]), {"status": "inactive"})
    page.get_by_role("navigation", name="Application").get_by_role("link", name="Settings").click()

    expect(page.get_by_label("API token")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("Unauthorized (401): the token is inactive")
    assert page.evaluate("() => sessionStorage.length") == 0


def test_a_refused_sign_in_says_why(page):
    page.goto("/console/")
    page.get_by_label("API token").fill("not a token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Unauthorized (401): ")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    assert page.evaluate("() => sessionStorage.length") == 0
