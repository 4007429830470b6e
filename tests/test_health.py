"""``/health/``: what a load balancer reads to keep a server in rotation or take it out."""

import pytest

from tests.services import redis_server

pytestmark = pytest.mark.django_db


def test_it_answers_200_when_database_caches_and_storage_work(client):
    r = client.get("/health/", headers={"Accept": "application/json"})
    assert r.status_code == 200
    assert r.json() == {
        "Database(alias='default')": "OK",
        "Cache(alias='default')": "OK",
        "Cache(alias='boards')": "OK",
        "Storage(alias='default')": "OK",
    }
    assert "no-cache" in r["Cache-Control"]


def test_it_needs_no_login_and_says_nothing_but_status_in_text(client):
    r = client.get("/health/?format=text")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/plain")
    assert r.content.decode().count(": OK") == 4


def test_it_answers_503_when_the_storage_cannot_write(client, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the media folder should be")
    settings.MEDIA_ROOT = blocker
    r = client.get("/health/?format=json")
    assert r.status_code == 503
    assert r.json()["Storage(alias='default')"] != "OK"
    assert r.json()["Database(alias='default')"] == "OK"


def test_it_answers_503_when_redis_is_gone(client, settings):
    with redis_server() as url:
        settings.CACHES = {
            alias: {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
            for alias in ("default", "boards")
        }
        assert client.get("/health/?format=json").status_code == 200
    r = client.get("/health/?format=json")  # the server stopped with the block
    assert r.status_code == 503
    assert r.json()["Cache(alias='default')"] != "OK"
    assert r.json()["Database(alias='default')"] == "OK"


def test_it_is_not_redirected_to_https_when_the_rest_is(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/health/").status_code == 200
    assert client.get("/accounts/login/").status_code == 301


def test_a_database_that_does_not_answer_is_503_without_naming_its_address(client, monkeypatch):
    from django.db import connections

    def refuse(*args, **kwargs):
        from django.db import OperationalError

        raise OperationalError('connection to server at "10.1.2.3", port 5432 failed: refused')

    monkeypatch.setattr(type(connections["default"]), "temporary_connection", refuse)  # in whichever thread
    r = client.get("/health/?format=json")
    assert r.status_code == 503
    assert r.json()["Database(alias='default')"] == "Unavailable: The database did not answer."
    assert "10.1.2.3" not in r.content.decode()
