"""Browser tests: pytest-playwright driving Debian's Chromium against pytest-django's live_server.

Run with ``pytest tests/e2e``. Playwright never downloads a browser here: the
launch arguments below point it at the system Chromium.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

E2E_DIR = Path(__file__).resolve().parent
REPO_DIR = E2E_DIR.parent.parent
FAILURE_DIR = REPO_DIR / "test-results"
SCREENSHOT_DIR = REPO_DIR / "var" / "screenshots"

PASSWORD = "pw"


def _in_e2e(item) -> bool:
    return E2E_DIR in Path(str(item.fspath)).resolve().parents


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Mark every test in this folder ``e2e`` and run them after all the others.

    Playwright's sync API keeps an event loop marked as running in the main
    thread from the first browser test until the session ends, so the browser
    tests go last: no other test runs under that loop or under the
    DJANGO_ALLOW_ASYNC_UNSAFE switch set below (which, for one, fails the
    ``check --deploy`` subprocess of tests/test_setup.py when inherited).
    """
    browser_tests = [item for item in items if _in_e2e(item)]
    for item in browser_tests:
        item.add_marker(pytest.mark.e2e)
    if browser_tests and len(browser_tests) < len(items):
        others = [item for item in items if not _in_e2e(item)]
        items[:] = others + browser_tests


@pytest.fixture(scope="session", autouse=True)
def _allow_orm_beside_playwright():
    """Let the test thread use the ORM (factories, checks) while Playwright's loop runs.

    Playwright's sync API runs an event loop in the test thread, which makes
    Django's async-safety check refuse ORM calls made by the test. The live
    server itself is a plain thread. Set lazily, for the browser tests only,
    and removed when the session ends.
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """Launch the system Chromium (overrides pytest-playwright's fixture)."""
    return {
        "executable_path": shutil.which("chromium") or "/usr/bin/chromium",
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
        "headless": True,
    }


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}, "locale": "en-US"}


@pytest.fixture(autouse=True)
def _live_db(transactional_db):
    """The live server runs in another thread, so tests need real commits."""


@pytest.fixture(autouse=True)
def _page_timeouts(request):
    """Fail fast instead of waiting Playwright's default 30 s on a missing element."""
    if "page" in request.fixturenames:
        page = request.getfixturevalue("page")
        page.set_default_timeout(5_000)
        page.set_default_navigation_timeout(10_000)


@pytest.fixture(autouse=True)
def _no_csp_violations(request):
    """Fail a browser test whose page broke the Content-Security-Policy (the browser logs each refusal)."""
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations), pytrace=False)


# Runs in every document the browser loads: once the page has loaded, report a page wider than the window.
_SIDEWAYS_PROBE = """
addEventListener("load", () => {
  const wide = document.documentElement.scrollWidth, inner = window.innerWidth;
  if (wide > inner) console.warn(`sideways-scroll: ${location.pathname} is ${wide}px wide in a ${inner}px window`);
});
"""


def sideways_overflow(page) -> str | None:
    """Why the current page scrolls sideways (its widest offenders), or None if it fits the window."""
    return page.evaluate(
        """() => {
          const inner = window.innerWidth, wide = document.documentElement.scrollWidth;
          if (wide <= inner) return null;
          const clipped = (el) => {
            for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
              if (getComputedStyle(up).overflowX !== "visible") return true;
            }
            return false;
          };
          const offenders = [...document.querySelectorAll("body *")]
            .filter((el) => el.getBoundingClientRect().right > inner + 1 && !clipped(el))
            .slice(-5)
            .map((el) => {
              const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "");
              const classes = typeof el.className === "string" ? el.className.trim().replace(/\\s+/g, ".") : "";
              return name + (classes ? "." + classes : "") + " right=" + Math.round(el.getBoundingClientRect().right);
            });
          return `${location.pathname} is ${wide}px wide in a ${inner}px window: ${offenders.join(", ")}`;
        }"""
    )


@pytest.fixture(autouse=True)
def _no_sideways_scroll(request):
    """Fail a browser test in which any page it loaded was wider than the window (scrollWidth > innerWidth)."""
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")
    wide = []
    page.on(
        "console",
        lambda message: (
            wide.append(message.text)
            if message.type == "warning" and message.text.startswith("sideways-scroll:")
            else None
        ),
    )
    page.add_init_script(_SIDEWAYS_PROBE)
    yield
    if not page.is_closed():
        try:
            now = sideways_overflow(page)
        except Exception:  # the page is mid-navigation or the browser is gone: the load probes still count
            now = None
        if now:
            wide.append("at the end of the test: " + now)
    if wide:
        pytest.fail("Pages scroll sideways:\n" + "\n".join(dict.fromkeys(wide)), pytrace=False)


@pytest.fixture
def url(live_server):
    """``url("/w/acme/p/parcels/")`` → the live server's absolute URL for that path."""

    def make(path: str = "/") -> str:
        return live_server.url + path

    return make


@pytest.fixture
def login(page, url):
    """Log a user in through the real login form; returns the page, now on the home page."""

    def do(user, password: str = PASSWORD):
        page.goto(url("/accounts/login/"))
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(url("/"))
        return page

    return do


@pytest.fixture
def shoot(page):
    """Save a full-page screenshot of the current page under var/screenshots/."""

    def take(name: str) -> Path:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failing e2e test, keep a full-page screenshot of what the browser showed."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    if not _in_e2e(item):
        return
    page = getattr(item, "funcargs", {}).get("page")
    if page is None or page.is_closed():
        return
    FAILURE_DIR.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid.split("::", 1)[-1])[:150]
    path = FAILURE_DIR / f"{name}.png"
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception as exc:  # the browser may be the thing that broke
        report.sections.append(("e2e screenshot", f"could not save a screenshot: {exc}"))
    else:
        report.sections.append(("e2e screenshot", f"saved {path}"))
