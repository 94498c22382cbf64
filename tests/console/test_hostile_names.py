"""Names come from other people: a token named like HTML, or holding a
terminal's control sequences and a right-to-left override, is shown as
text, and nothing in it runs. The harness fails the test on any dialog
(alert) or console error the page produces; these tests also look in the
DOM for what an injection would have left there."""

from urllib.parse import quote

from console_api import Api, unique
from playwright.sync_api import expect

HTML_NAME = "<img src=x onerror=alert(1)>"
SCRIPT_DESCRIPTION = "<script>alert('description')</script>"
# ESC [2J clears a terminal; BEL rings; U+202E reverses the text after it.
TERMINAL_NAME = "\x1b[2J\x07evil\u202etxt.exe"
# How the console shows it: each of those three as U+FFFD, as the CLI does.
TERMINAL_NAME_SHOWN = "\ufffd[2J\ufffdevil\ufffdtxt.exe"


def injected(page):
    """Elements an injection would have made: any <img> or <script> of the
    page other than the console's own module."""
    return page.evaluate(
        """() => [...document.querySelectorAll('img, script:not([src$="app.js"]), [onerror]')]
                 .map((element) => element.outerHTML)"""
    )


def test_hostile_names_are_shown_as_text_and_nothing_runs(page, server, admin_token, sign_in, axe, screenshot):
    api = Api(server.url, admin_token)
    application = api.create_application(unique(HTML_NAME))
    api.create_token(application["id"], HTML_NAME, description=SCRIPT_DESCRIPTION)
    api.create_token(application["id"], TERMINAL_NAME)

    sign_in(page, admin_token)
    page.goto("/console/#/applications?filter=" + quote(application["name"]))
    expect(page.get_by_role("link", name=application["name"])).to_be_visible()
    page.get_by_role("link", name=application["name"]).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(application["name"])
    tokens = page.get_by_role("region", name="Tokens")
    expect(tokens.get_by_role("link", name=HTML_NAME, exact=True)).to_be_visible()
    expect(tokens.get_by_role("link", name=TERMINAL_NAME_SHOWN, exact=True)).to_be_visible()
    assert injected(page) == []
    axe(page)
    screenshot(page, "hostile-names")

    tokens.get_by_role("link", name=HTML_NAME, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(HTML_NAME)
    expect(page.get_by_text(SCRIPT_DESCRIPTION)).to_be_visible()
    # The edit form holds the name as it is, to be saved back unchanged.
    expect(page.get_by_label("Name", exact=True)).to_have_value(HTML_NAME)
    expect(page).to_have_title(HTML_NAME + " · Latchkey console")
    assert injected(page) == []

    # The confirmation quotes the name, as text too.
    page.get_by_role("button", name="Delete token").click()
    expect(page.get_by_role("dialog")).to_contain_text("“%s” stops working at once" % HTML_NAME)
    assert injected(page) == []
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()

    page.get_by_role("link", name="Back to the tokens").click()
    page.get_by_role("region", name="Tokens").get_by_role("link", name=TERMINAL_NAME_SHOWN).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TERMINAL_NAME_SHOWN)
    expect(page.get_by_label("Name", exact=True)).to_have_value(TERMINAL_NAME)
    assert injected(page) == []
