"""Every log line of a request names the request (its id), the user and the workspace."""

import io
import json
import logging
import logging.config
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from accounts.services import create_api_key

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def json_lines():
    """The app's own JSON formatter and context filter (settings.LOGGING) on a buffer, for the
    request line and the warnings Django writes while answering."""
    stream = io.StringIO()
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": django_settings.LOGGING["filters"],
            "formatters": django_settings.LOGGING["formatters"],
            "handlers": {
                "buffer": {
                    "class": "logging.StreamHandler",
                    "stream": stream,
                    "formatter": "json",
                    "filters": ["context"],
                }
            },
            "loggers": {
                name: {"handlers": ["buffer"], "level": "INFO", "propagate": False}
                for name in ("batchboard.request", "django.request", "boards")
            },
        }
    )
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logging.config.dictConfig(django_settings.LOGGING)


def test_a_request_is_answered_with_its_id_and_logged_with_user_and_workspace(client, manager, project, json_lines):
    client.force_login(manager)
    r = client.get(f"/w/{project.workspace.slug}/p/{project.slug}/")
    assert r.status_code == 200
    request_id = r["X-Request-ID"]
    assert len(request_id) == 32
    [line] = [line for line in json_lines() if line["logger"] == "batchboard.request"]
    assert line["request_id"] == request_id
    assert line["user"] == manager.pk
    assert line["workspace"] == "acme"
    assert (line["method"], line["path"], line["status"]) == ("GET", f"/w/acme/p/{project.slug}/", 200)
    assert line["level"] == "INFO" and line["duration_ms"] >= 0 and line["time"]


def test_djangos_own_warnings_carry_the_request_too(client, manager, workspace, json_lines):
    client.force_login(manager)
    r = client.get("/w/acme/p/no-such-project/", headers={"X-Request-ID": "lb-7f3a.1"})
    assert r.status_code == 404
    assert r["X-Request-ID"] == "lb-7f3a.1"  # a proxy's id is kept, so its log and ours meet
    lines = json_lines()
    warning = next(line for line in lines if line["logger"] == "django.request")
    assert warning["level"] == "WARNING"
    assert (warning["request_id"], warning["user"], warning["workspace"]) == ("lb-7f3a.1", manager.pk, "acme")


@pytest.mark.parametrize("given", ["x" * 65, "two words", "new\nline", "é", "<script>"])
def test_a_request_id_that_is_not_a_plain_token_is_replaced(client, given, json_lines):
    r = client.get("/accounts/login/", headers={"X-Request-ID": given})
    assert r["X-Request-ID"] != given and len(r["X-Request-ID"]) == 32


def test_an_api_call_is_logged_as_the_keys_person_in_its_workspace(client, manager, workspace, json_lines):
    _, raw = create_api_key(workspace=workspace, actor=manager, name="script", scopes=["read"])
    r = client.get("/api/", headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 200
    [line] = [line for line in json_lines() if line["logger"] == "batchboard.request"]
    assert (line["user"], line["workspace"], line["status"]) == (manager.pk, "acme", 200)


def test_an_anonymous_request_is_logged_without_user_or_workspace(client, json_lines):
    client.get("/accounts/login/")
    [line] = [line for line in json_lines() if line["logger"] == "batchboard.request"]
    assert line["user"] is None and line["workspace"] is None


def test_a_line_written_after_the_request_names_none(client, manager, json_lines):
    client.force_login(manager)
    client.get("/")
    logging.getLogger("boards").warning("between requests")
    line = json_lines()[-1]
    assert line["message"] == "between requests"
    assert (line["request_id"], line["user"], line["workspace"]) == (None, None, None)


def _run(env: dict, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    env.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_log_format_json_writes_one_json_object_per_line_to_stderr():
    done = _run(
        {"LOG_FORMAT": "json"},
        "import django, logging; django.setup(); logging.getLogger('boards').warning('disk at %d%%', 91)",
    )
    assert done.returncode == 0, done.stderr
    [line] = done.stderr.splitlines()
    record = json.loads(line)
    assert record["message"] == "disk at 91%"
    assert (record["level"], record["logger"], record["request_id"]) == ("WARNING", "boards", None)


def test_an_unknown_log_format_stops_the_app_at_start():
    done = _run({"LOG_FORMAT": "xml"}, "import django; django.setup()")
    assert done.returncode != 0
    assert "LOG_FORMAT must be text or json" in done.stderr
