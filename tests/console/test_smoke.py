"""The console loads, its sign-in form is found as a screen reader finds it,
the admin token signs in, and axe-core finds nothing serious on either page."""

import re

from conftest import SIGN_IN_BUTTON, SIGN_IN_TOKEN_LABEL, SIGN_OUT_BUTTON
from playwright.sync_api import expect


def test_the_console_loads_and_the_admin_token_signs_in(page, admin_token, axe, screenshot):
    response = page.goto("/console/")
    assert response.status == 200, response.status
    token_field = page.get_by_label(SIGN_IN_TOKEN_LABEL)
    sign_in_button = page.get_by_role("button", name=SIGN_IN_BUTTON)
    expect(token_field).to_be_visible()
    expect(sign_in_button).to_be_visible()
    expect(page).to_have_title(re.compile("Sign in"))
    axe(page)
    screenshot(page, "sign-in")

    token_field.fill(admin_token)
    sign_in_button.click()
    expect(page.get_by_role("button", name=SIGN_OUT_BUTTON)).to_be_visible()
    expect(token_field).to_have_count(0)
    axe(page)
    screenshot(page, "signed-in")


def test_the_sign_in_form_fits_a_phone(phone, axe, screenshot):
    phone.goto("/console/")
    expect(phone.get_by_label(SIGN_IN_TOKEN_LABEL)).to_be_visible()
    expect(phone.get_by_role("button", name=SIGN_IN_BUTTON)).to_be_in_viewport()
    overflow = phone.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "the page is %dpx wider than the phone's screen" % overflow
    axe(phone)
    screenshot(phone, "sign-in-phone")
