"""The harness itself: each kind of trouble it watches for, caused on purpose
on the real console page, is caught (so a passing console test means the
browser saw nothing unexpected, not that nobody looked)."""

import pytest


@pytest.fixture
def console(page):
    page.goto("/console/")
    return page


def caught(page_events):
    """The message with which the harness fails the test now."""
    with pytest.raises(pytest.fail.Exception) as failure:
        page_events.check()
    return str(failure.value)


def test_an_uncaught_error_fails_the_test(console, page_events):
    console.evaluate("() => { setTimeout(() => { throw new Error('thrown on purpose'); }, 0); }")
    assert "uncaught error in the page: Error: thrown on purpose" in caught(page_events)


def test_a_console_error_fails_the_test_unless_allowed(console, page_events):
    console.evaluate("() => console.error('logged on purpose')")
    assert "console error: logged on purpose" in caught(page_events)
    page_events.allow_console_error(r"^logged on purpose$")
    console.evaluate("() => console.error('logged on purpose')")
    page_events.check()


def test_an_unannounced_dialog_fails_the_test_and_an_announced_one_is_answered(console, page_events):
    console.evaluate("() => { setTimeout(() => alert('alerted on purpose'), 0); }")
    assert "unexpected alert dialog: 'alerted on purpose'" in caught(page_events)
    page_events.expect_dialog(r"^Delete\?$", accept=True)
    assert console.evaluate("() => confirm('Delete?')") is True
    page_events.expect_dialog(r"^Delete\?$", accept=False)
    assert console.evaluate("() => confirm('Delete?')") is False
    page_events.check()


def test_a_missing_console_file_fails_the_test(console, page_events):
    console.evaluate("() => fetch('/console/no-such-file.js').catch(() => null)")
    assert "404 for the console's own file /console/no-such-file.js" in caught(page_events)


def test_an_inline_script_blocked_by_the_csp_fails_the_test(console, page_events):
    console.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1'; document.head.append(s); }"
    )
    assert console.evaluate("() => window.ran") is None, "the inline script ran: no Content-Security-Policy?"
    assert "Content Security Policy" in caught(page_events)


def test_axe_fails_on_a_critical_violation(console, axe):
    axe(console)
    console.evaluate("() => { const img = document.createElement('img'); img.src = 'favicon.svg'; document.body.append(img); }")
    with pytest.raises(AssertionError, match=r"image-alt \(critical\)"):
        axe(console)
