"""Login throttling and the Content-Security-Policy, as a browser meets them."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.factories import UserFactory

LOGIN = "/accounts/login/"


def _try(page, email, password):
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Log in").click()
    return answer.value


def test_too_many_wrong_passwords_show_the_locked_out_page(page, url, settings, shoot):
    settings.AXES_FAILURE_LIMIT = 3
    user = UserFactory(email="pat@acme.test")
    page.goto(url(LOGIN))
    for _ in range(2):
        assert _try(page, user.email, "guess").status == 200
        expect(page.get_by_role("alert")).to_contain_text("didn’t match")
    answer = _try(page, user.email, "guess")
    assert answer.status == 429 and 0 < int(answer.headers["retry-after"]) <= 15 * 60
    expect(page.get_by_role("heading", name="Too many failed logins")).to_be_visible()
    expect(page.get_by_text("Try again in 15 minutes")).to_be_visible()
    shoot("login-locked-out")
    page.get_by_role("link", name="Back to log in").click()
    assert _try(page, user.email, "pw").status == 429  # the right password waits too


def test_the_browser_reports_a_csp_violation_when_a_page_breaks_the_policy(context, url):
    """The check that every browser test runs (tests/e2e/conftest.py) sees what Chromium refuses."""
    page = context.new_page()
    messages = []
    page.on("console", lambda m: messages.append(m.text) if m.type == "error" else None)
    page.goto(url(LOGIN))
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=\"window.ran = 1\">')")
    page.wait_for_timeout(300)
    assert any("Content Security Policy" in m for m in messages), messages
    assert page.evaluate("window.ran") is None
    page.close()
