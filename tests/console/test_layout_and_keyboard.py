"""The console by keyboard alone, with the focus always visible; and every
page on a 390x844 phone: readable without sideways scrolling of the page,
no serious axe-core violation, photographed."""

from datetime import datetime, timedelta, timezone

from console_api import Api, unique
from playwright.sync_api import expect

MOST_TAB_STOPS = 400

FOCUSED = """() => {
    const element = document.activeElement;
    const style = getComputedStyle(element);
    const label = element.labels && element.labels.length ? element.labels[0].textContent : '';
    return {
        name: (element.getAttribute('aria-label') || label || element.textContent || '').trim(),
        tag: element.tagName.toLowerCase(),
        outline: style.outlineStyle,
        outlineWidth: parseFloat(style.outlineWidth),
    };
}"""


def tab_to(page, name, tag):
    """Presses Tab until the focus is on the `tag` element named `name`;
    every element passed on the way must show its focus."""
    for _ in range(MOST_TAB_STOPS):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused["tag"] != "body":
            assert focused["outline"] != "none" and focused["outlineWidth"] >= 2, "focus not visible on %r" % focused
        if focused["tag"] == tag and focused["name"].startswith(name):
            return
    raise AssertionError("Tab never reached the %s %r" % (tag, name))


def test_the_flow_by_keyboard_alone(page, server, admin_token):
    api = Api(server.url, admin_token)
    page.goto("/console/")
    tab_to(page, "API token", "input")
    page.keyboard.type(admin_token)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Applications")

    application_name = unique("Keyboard")
    tab_to(page, "Application name", "input")
    page.keyboard.type(application_name)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(application_name)

    tab_to(page, "New token", "a")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Token name")).to_be_visible()
    tab_to(page, "Token name", "input")
    page.keyboard.type("typed")
    tab_to(page, "Never", "input")  # a radio group is one stop: arrows move within it
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("radio", name="In 90 days")).to_be_checked()
    tab_to(page, "Create token", "button")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Token created")
    secret = page.get_by_label("Secret of").input_value()
    expires = datetime.fromisoformat(api.call("GET", "/auth/introspect", token=secret).json()["expirationDate"])
    assert timedelta(days=89) < expires - datetime.now(timezone.utc) <= timedelta(days=90), expires

    tab_to(page, "View the token", "a")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("typed")
    expect(page.get_by_role("button", name="Deactivate token")).to_be_visible()
    tab_to(page, "Deactivate token", "button")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Re-activate token")).to_be_focused()
    assert api.call("GET", "/auth/introspect", token=secret).status_code == 401

    tab_to(page, "Delete token", "button")
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    assert page.evaluate(FOCUSED)["name"] == "Cancel", "the dialog opens on its safe choice"
    tab_to(page, "Delete token", "button")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(application_name)

    tab_to(page, "Sign out", "button")
    page.keyboard.press("Enter")
    expect(page.get_by_label("API token")).to_be_visible()


def assert_fits(page):
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "%s is %dpx wider than the screen" % (page.url, overflow)


def test_every_page_fits_a_phone(phone, server, admin_token, sign_in, axe, screenshot):
    api = Api(server.url, admin_token)
    application = api.create_application(unique("Phone"))
    token = api.create_token(application["id"], "a token with a rather long name, to wrap", scope=["all.Application.read", "device.get"])
    base = "/console/#/applications/%s" % application["id"]

    sign_in(phone, admin_token)
    pages = [
        ("applications-phone", "/console/#/applications", "Applications"),
        ("tokens-phone", base, application["name"]),
        ("new-token-phone", base + "/tokens/new", "New token"),
        ("token-phone", "%s/tokens/%s" % (base, token["id"]), token["name"]),
        ("audit-log-phone", base + "/audit", application["name"]),
        ("application-settings-phone", base + "/settings", application["name"]),
    ]
    for name, address, heading in pages:
        phone.goto(address)
        expect(phone.get_by_role("heading", level=1)).to_have_text(heading)
        expect(phone.get_by_text("Loading…")).to_have_count(0)
        assert_fits(phone)
        axe(phone)
        screenshot(phone, name)
