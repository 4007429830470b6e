"""Every answer carries a Content-Security-Policy and a Permissions-Policy; templates stay free of inline code."""

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

from boards.models import Annotation, LabelClass
from tests.api_support import Api
from tests.factories import ImageFactory

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
TEMPLATE_FILES = sorted((ROOT / "templates").rglob("*.html"))


def _assert_headers(response, what):
    policy = response.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives.get("script-src") == ["'self'"], f"{what}: {policy!r}"
    assert directives.get("style-src") == ["'self'"], f"{what}: {policy!r}"
    assert directives.get("default-src") == ["'self'"] and directives.get("object-src") == ["'none'"], what
    assert directives.get("frame-ancestors") == ["'none'"], what
    assert "unsafe" not in policy, f"{what}: {policy!r}"
    features = response.get("Permissions-Policy", "")
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in features, f"{what}: {features!r}"


def _routes(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and not route.startswith(("admin/", "^")):
            yield route


@pytest.fixture
def world(project, manager, labeler, make_batch):
    batch = make_batch(2)
    label = LabelClass.objects.create(project=project, name="car", color="#e11d48")
    image = batch.images.first()
    Annotation.objects.create(image=image, label=label, x=4, y=6, width=20, height=24)
    ImageFactory(project=project)
    return {
        "ws": "acme",
        "project": "parcels",
        "batch_id": str(batch.pk),
        "image_id": str(image.pk),
        "label_id": str(label.pk),
        "status": "unassigned",
        "name": "assign",
        "kind": "thumb",
    }


def _url(route: str, values: dict) -> str:
    def fill(match):
        return values.get(match.group(2), "1" if match.group(1) in ("int", "id") else "x")

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)


def test_every_page_and_api_answer_carries_both_policies(client, manager, make_key, world):
    """Each route of the app and the API, as a manager sees it (whatever its status)."""
    client.force_login(manager)
    key = make_key(manager)
    urls = sorted({_url(route, world) for route in _routes(get_resolver().url_patterns)})
    assert len(urls) > 40
    for url in urls:
        if url.startswith("/api"):
            response = client.get(url, {"api_key": key})
        else:
            response = client.get(url)
        assert response.status_code < 500, url
        _assert_headers(response, url)


@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/admin/login/", "/admin/", "/no/such/page/", "/static/css/app.css", "/api/acme"]
)
def test_anonymous_answers_and_errors_carry_both_policies(client, path, workspace):
    _assert_headers(client.get(path), path)


def test_the_admin_pages_carry_both_policies(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("admin@acme.test", "pw"))
    for path in ("/admin/", "/admin/accounts/user/", "/admin/boards/batch/", "/admin/boards/batch/add/"):
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_headers(response, path)


def test_api_errors_carry_both_policies(client, api, workspace):
    for response in (
        api.get("/acme/parcels"),  # 404: no such project
        Api(client, "bbnotakey").get("/acme"),  # 401
        api.post("/acme/parcels/batches/1/move", "{not json"),  # 400 or 404
        client.put("/api/acme"),  # 405
    ):
        assert response.status_code >= 400
        _assert_headers(response, response.status_code)


def test_the_locked_out_login_page_carries_both_policies(client, manager, settings):
    settings.AXES_FAILURE_LIMIT = 1
    response = client.post("/accounts/login/", {"username": manager.email, "password": "guess"})
    assert response.status_code == 429
    _assert_headers(response, "locked out")


# --- templates: no inline script, handler or style, so the strict policy holds --------------------

TAG = re.compile(r"<([a-zA-Z][\w-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.S)


def _inline_code(text: str) -> list[str]:
    found = []
    for match in TAG.finditer(text):
        name, attributes = match.group(1).lower(), match.group(2)
        if name == "script" and not re.search(r"\ssrc\s*=", attributes):
            found.append(f"inline <script>: {match.group(0)[:80]}")
        if name == "style":
            found.append("<style> block")
        if re.search(r"\s(?:hx-)?on[a-z:-]*\s*=", attributes):
            found.append(f"on*= or hx-on handler: {match.group(0)[:80]}")
        if re.search(r"\sstyle\s*=", attributes):
            found.append(f"style= attribute: {match.group(0)[:80]}")
        if re.search(r"(?:href|src|action)\s*=\s*[\"']?\s*javascript:", attributes, re.I):
            found.append(f"javascript: URL: {match.group(0)[:80]}")
    return found


def test_the_checker_finds_each_kind_of_inline_code():
    bad = (
        '<script>alert(1)</script><style>p{}</style><a onclick="x()">a</a>'
        '<button type="button" onmouseover=\'x()\'>b</button><span style="width: 1%">c</span>'
        '<a href="javascript:go()">d</a><form hx-on::after-request="x()"></form>'
    )
    assert len(_inline_code(bad)) == 7
    good = '<script src="/static/js/board.js" defer></script><a class="one" data-on="x" hx-get="/on">ok</a>'
    assert _inline_code(good) == []


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_hold_no_inline_script_handler_or_style(path):
    assert _inline_code(path.read_text()) == []


def test_htmx_injects_no_indicator_style_and_evaluates_nothing():
    base = (ROOT / "templates" / "base.html").read_text()
    config = json.loads(re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", base).group(1))
    assert config["includeIndicatorStyles"] is False and config["allowEval"] is False
    # Settling would copy a style attribute left by a drag onto the swapped-in element: a violation.
    assert "style" not in config["attributesToSettle"]
    assert ".htmx-indicator" in (ROOT / "static" / "css" / "app.css").read_text()
