"""Guessing API keys: repeated bad keys from one client get 429 with Retry-After, counted in the database."""

from datetime import timedelta

import pytest
from django.core.cache import caches
from django.utils import timezone

from accounts.models import ApiKey, ApiKeyFailure
from tests.api_support import error_of

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.7"
BAD_KEY = "bb" + "x" * 38


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.API_KEY_FAILURE_LIMIT = 5
    settings.API_KEY_LOCKOUT_SECONDS = 300


def _get(client, key, *, address=ATTACKER, path="/api/acme", bearer=False, **headers):
    if bearer:
        headers["Authorization"] = f"Bearer {key}"
        return client.get(path, REMOTE_ADDR=address, headers=headers)
    return client.get(path, {"api_key": key}, REMOTE_ADDR=address, headers=headers)


def _guess(client, times, **kwargs):
    for n in range(times):
        response = _get(client, f"{BAD_KEY[:-3]}{n:03d}", **kwargs)
        assert response.status_code == 401, response.content


def _assert_locked(response, *, seconds=300):
    assert response.status_code == 429
    error = error_of(response)
    assert error["type"] == "rate_limited"
    assert "invalid API key" in error["message"] and "try again in" in error["message"]
    assert 0 < int(response["Retry-After"]) <= seconds


def test_repeated_bad_keys_from_one_client_get_429_with_retry_after(client, workspace):
    _guess(client, 5)
    _assert_locked(_get(client, BAD_KEY))


def test_a_good_key_from_that_client_is_refused_too_while_locked(client, manager, make_key):
    good = make_key(manager)
    _guess(client, 5)
    _assert_locked(_get(client, good))
    _assert_locked(_get(client, good, bearer=True))


def test_a_good_key_works_again_after_the_lockout(client, manager, make_key):
    good = make_key(manager)
    _guess(client, 5)
    _assert_locked(_get(client, good))
    ApiKeyFailure.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    response = _get(client, good)
    assert response.status_code == 200 and response.json()["workspace"]["url"] == "acme"
    # And the count starts again from nothing.
    _guess(client, 4)


def test_other_clients_are_not_locked(client, manager, make_key):
    _guess(client, 5)
    assert _get(client, make_key(manager), address="198.51.100.20").status_code == 200


def test_bad_keys_in_the_header_count_the_same(client, workspace):
    _guess(client, 5, bearer=True)
    _assert_locked(_get(client, BAD_KEY))


def test_a_revoked_key_counts_as_a_bad_one(client, manager, make_key):
    raw = make_key(manager)
    ApiKey.objects.update(revoked_at=timezone.now())
    for _ in range(5):
        assert _get(client, raw).status_code == 401
    _assert_locked(_get(client, raw))


def test_requests_without_a_key_do_not_count(client, workspace):
    for _ in range(10):
        assert _get(client, "").status_code == 401
    assert not ApiKeyFailure.objects.exists()


def test_failures_older_than_the_window_do_not_count(client, workspace):
    _guess(client, 4)
    ApiKeyFailure.objects.update(window_started_at=timezone.now() - timedelta(seconds=301))
    _guess(client, 4)
    assert ApiKeyFailure.objects.get().failures == 4


def test_the_count_is_kept_in_the_database_not_in_one_process(client, workspace):
    _guess(client, 5)
    for alias in ("default", "boards"):  # another server process starts with empty caches
        caches[alias].clear()
    _assert_locked(_get(client, BAD_KEY))
    row = ApiKeyFailure.objects.get()
    assert row.client == ATTACKER and row.locked_until > timezone.now()


def test_every_api_endpoint_is_covered(client, workspace):
    _guess(client, 5, path="/api/acme/parcels")
    _assert_locked(_get(client, BAD_KEY, path="/api/"))
    _assert_locked(client.post(f"/api/dataset/parcels/upload?api_key={BAD_KEY}", REMOTE_ADDR=ATTACKER))


def test_a_client_behind_the_proxy_cannot_dodge_the_lockout_by_forging_the_header(client, workspace, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(5):
        _get(client, BAD_KEY, address="127.0.0.1", x_forwarded_for=f"6.6.6.{n}, {ATTACKER}")
    _assert_locked(_get(client, BAD_KEY, address="127.0.0.1", x_forwarded_for=ATTACKER))
    assert _get(client, BAD_KEY, address="127.0.0.1", x_forwarded_for="198.51.100.20").status_code == 401


def test_a_limit_of_zero_turns_the_lockout_off(client, workspace, settings):
    settings.API_KEY_FAILURE_LIMIT = 0
    _guess(client, 30)
    assert not ApiKeyFailure.objects.exists()


def test_expired_entries_of_other_clients_are_cleared(client, workspace):
    _guess(client, 2, address="198.51.100.1")
    ApiKeyFailure.objects.update(window_started_at=timezone.now() - timedelta(seconds=600))
    _guess(client, 1)
    assert list(ApiKeyFailure.objects.values_list("client", flat=True)) == [ATTACKER]


@pytest.mark.django_db(transaction=True)
def test_concurrent_bad_keys_from_many_processes_all_count(settings):
    """Each failure is one UPDATE (or a guarded INSERT), so racing workers lose no count."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, connections

    from accounts.throttle import record_bad_api_key

    if connection.vendor != "postgresql":
        pytest.skip("real concurrent transactions need PostgreSQL")
    settings.API_KEY_FAILURE_LIMIT = 1000

    def fail(_):
        try:
            for _ in range(5):
                record_bad_api_key(ATTACKER)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(fail, range(8)))
    assert ApiKeyFailure.objects.get(client=ATTACKER).failures == 40


def test_an_administrator_can_see_and_lift_a_lockout_in_the_admin(client, workspace, django_user_model):
    _guess(client, 5)
    client.force_login(django_user_model.objects.create_superuser("admin@acme.test", "pw"))
    row = ApiKeyFailure.objects.get()
    assert ATTACKER in client.get("/admin/accounts/apikeyfailure/").content.decode()
    client.post(f"/admin/accounts/apikeyfailure/{row.pk}/delete/", {"post": "yes"})
    assert not ApiKeyFailure.objects.exists()
    assert _get(client, BAD_KEY).status_code == 401
