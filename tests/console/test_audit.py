"""An application's audit log in the console: its entries, newest first,
filtered by actor, request and time, each filter sent to the server."""

from console_api import Api, unique
from playwright.sync_api import expect


def test_the_audit_log_tab_filters_by_actor_request_and_time(page, server, admin_token, sign_in, axe, screenshot):
    api = Api(server.url, admin_token)
    application = api.create_application(unique("Audited"))
    token = api.create_token(application["id"], "audited token")
    path = "/applications/%s/tokens/%s" % (application["id"], token["id"])
    api.ok("PATCH", path, {"status": "inactive"})
    api.ok("DELETE", path)
    entries = api.ok("GET", "/applications/%s/audit-logs" % application["id"])["items"]
    requests_made = [(entry["requestResource"], entry["requestAction"]) for entry in entries]
    assert requests_made == [
        ("applicationApiToken", "delete"),
        ("applicationApiToken", "patch"),
        ("applicationApiTokens", "post"),
        ("applications", "post"),
    ]
    actor = entries[0]["actorName"]

    sign_in(page, admin_token)
    page.goto("/console/#/applications/%s/audit" % application["id"])
    log = page.get_by_role("region", name="Audit log entries")
    requests_shown = log.locator("tbody tr td:nth-child(3)")
    expect(requests_shown).to_have_text(["%s %s" % request for request in requests_made])
    expect(log.locator("tbody tr td:nth-child(5)")).to_have_text(["audited token", "audited token", "audited token", "—"])
    axe(page)
    screenshot(page, "audit-log")

    page.get_by_label("Request").select_option(label="Change a token")
    page.get_by_role("button", name="Apply").click()
    expect(requests_shown).to_have_text(["applicationApiToken patch"])

    page.get_by_label("Request").select_option(label="Any request")
    page.get_by_label("Actor name").fill(actor)
    page.get_by_label("Direction").select_option(label="Ascending")
    page.get_by_role("button", name="Apply").click()
    expect(requests_shown).to_have_text(["%s %s" % request for request in reversed(requests_made)])
    page.get_by_label("Actor name").fill("no such actor")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_have_text("No entries on this page (0 in all).")

    page.get_by_label("Actor name").fill("")
    page.get_by_label("From").fill("2999-01-01T00:00")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_have_text("No entries on this page (0 in all).")
    page.get_by_label("From").fill("2000-01-01T00:00")
    page.get_by_label("Until").fill("2999-01-01T00:00")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_have_text("1–4 of 4 entries")
