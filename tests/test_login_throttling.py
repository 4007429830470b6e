"""Failed logins, the app's and the admin's, are throttled per account and per client address."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user
from django.test import RequestFactory
from django.urls import reverse

from accounts.throttle import client_ip
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def _login(client, email, password, *, path=LOGIN, address="203.0.113.7", **headers):
    return client.post(path, {"username": email, "password": password}, REMOTE_ADDR=address, headers=headers)


def _fail(client, email, times, **kwargs):
    for _ in range(times):
        response = _login(client, email, "guess", **kwargs)
        assert response.status_code == 200, response.status_code
        assert "didn’t match" in response.content.decode()


def _assert_locked_out(response, minutes=15):
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert "Too many failed logins" in body
    assert f"Try again in {minutes} minutes" in body
    assert 'href="/static/css/app.css"' in body  # the app's own page, not a bare text
    wait = int(response["Retry-After"])
    assert minutes * 60 - 60 < wait <= minutes * 60


def test_it_locks_an_account_at_the_failure_limit_and_says_when_to_retry(client, manager):
    _fail(client, manager.email, 2)
    _assert_locked_out(_login(client, manager.email, "guess"))


def test_a_locked_account_refuses_even_the_right_password(client, manager):
    _fail(client, manager.email, 2)
    _login(client, manager.email, "guess")
    response = _login(client, manager.email, "pw")
    _assert_locked_out(response)
    assert not get_user(client).is_authenticated


def test_the_account_stays_locked_from_another_address(client, manager):
    _fail(client, manager.email, 2, address="203.0.113.7")
    _login(client, manager.email, "guess", address="203.0.113.7")
    _assert_locked_out(_login(client, manager.email, "pw", address="198.51.100.20"))


def test_the_account_is_counted_whatever_case_the_email_is_typed_in(client, manager):
    for email in ("MANAGER@acme.test", " Manager@Acme.test ", "manager@ACME.TEST"):
        _login(client, email, "guess", address=f"198.51.100.{len(email)}")
    _assert_locked_out(_login(client, manager.email, "pw", address="192.0.2.55"))


def test_it_locks_an_address_that_guesses_at_many_accounts(client, manager):
    for n in range(3):
        _login(client, f"someone{n}@acme.test", "guess")
    _assert_locked_out(_login(client, manager.email, "pw"))
    # The accounts themselves are not locked: from elsewhere the right password works.
    assert _login(client, manager.email, "pw", address="198.51.100.20").status_code == 302


def test_a_login_below_the_limit_works(client, manager):
    _fail(client, manager.email, 2)
    response = _login(client, manager.email, "pw")
    assert response.status_code == 302 and get_user(client) == manager


def test_logging_in_to_ones_own_account_does_not_wipe_the_guesses_at_another(client, manager):
    attacker = UserFactory(email="mallory@acme.test")
    _fail(client, manager.email, 2)
    assert _login(client, attacker.email, "pw").status_code == 302
    client.logout()
    _assert_locked_out(_login(client, manager.email, "guess", address="198.51.100.20"))


def test_the_lockout_ends_after_the_cooloff(client, manager):
    _fail(client, manager.email, 2)
    _login(client, manager.email, "guess")
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))
    response = _login(client, manager.email, "pw")
    assert response.status_code == 302 and get_user(client) == manager


def test_the_failures_are_kept_in_the_database(client, manager):
    _fail(client, manager.email, 2)
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == (manager.email, "203.0.113.7", 2)
    assert "guess" not in attempt.post_data  # the password tried is not stored


def test_the_admin_login_is_throttled_with_the_same_page(client):
    admin = UserFactory(email="admin@acme.test", is_staff=True, is_superuser=True)
    for _ in range(2):
        assert _login(client, admin.email, "guess", path=ADMIN_LOGIN).status_code == 200
    response = _login(client, admin.email, "guess", path=ADMIN_LOGIN)
    _assert_locked_out(response)
    assert f'href="{ADMIN_LOGIN}"' in response.content.decode()
    _assert_locked_out(_login(client, admin.email, "pw", path=ADMIN_LOGIN))


def test_failures_on_the_admin_count_towards_the_app_login(client, manager):
    _login(client, manager.email, "guess", path=ADMIN_LOGIN)
    _fail(client, manager.email, 1)
    _assert_locked_out(_login(client, manager.email, "guess"))


def test_each_test_starts_with_no_failed_logins():
    """Axes keeps its counts in the database, which every test rolls back."""
    assert not AccessAttempt.objects.exists()


def test_the_login_page_still_opens_while_locked_out(client, manager):
    _fail(client, manager.email, 2)
    _login(client, manager.email, "guess")
    assert client.get(reverse("login")).status_code == 200


# --- the client address behind the proxy -------------------------------------------------------


def _request(remote="10.0.0.2", forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def test_without_a_proxy_the_address_is_the_connections(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(_request("192.0.2.9", "1.2.3.4")) == "192.0.2.9"


def test_behind_one_proxy_the_address_is_the_one_the_proxy_appended(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(_request("127.0.0.1", "192.0.2.9")) == "192.0.2.9"
    # What the client wrote into the header itself is on the left and ignored.
    assert client_ip(_request("127.0.0.1", "6.6.6.6, 192.0.2.9")) == "192.0.2.9"
    assert client_ip(_request("127.0.0.1", "2001:db8::1")) == "2001:db8::1"


def test_behind_two_proxies_the_address_is_the_second_from_the_right(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(_request("127.0.0.1", "6.6.6.6, 192.0.2.9, 10.0.0.5")) == "192.0.2.9"


def test_a_missing_or_garbled_forwarded_header_falls_back_to_the_connection(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(_request("127.0.0.1")) == "127.0.0.1"
    assert client_ip(_request("127.0.0.1", "not-an-address")) == "127.0.0.1"


def test_a_client_behind_the_proxy_cannot_dodge_the_address_lockout_by_forging_the_header(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(3):
        _login(client, f"someone{n}@acme.test", "guess", address="127.0.0.1", x_forwarded_for=f"6.6.6.{n}, 192.0.2.9")
    response = _login(client, "other@acme.test", "guess", address="127.0.0.1", x_forwarded_for="7.7.7.7, 192.0.2.9")
    _assert_locked_out(response)
    # Another client behind the same proxy is not locked out.
    response = _login(client, "other@acme.test", "guess", address="127.0.0.1", x_forwarded_for="192.0.2.10")
    assert response.status_code == 200
