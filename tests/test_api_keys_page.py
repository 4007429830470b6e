"""The workspace's API keys page: owners and managers create, list and revoke keys."""

import re

import pytest
from django.urls import reverse

from accounts.models import ApiKey, hash_api_key
from tests.api_support import Api

pytestmark = pytest.mark.django_db

URL = reverse("api-keys", args=["acme"])


def test_a_manager_creates_a_key_that_is_shown_once_and_works(client, manager, project):
    client.force_login(manager)
    response = client.post(URL, {"name": "nightly upload", "scopes": ["read", "upload"]})
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    raw = re.search(r'value="(bb[a-z0-9]{38})"', response.content.decode()).group(1)
    key = ApiKey.objects.get()
    assert (key.name, key.scopes, key.created_by, key.prefix) == (
        "nightly upload",
        ["read", "upload"],
        manager,
        raw[:8],
    )
    assert key.key_hash == hash_api_key(raw) and raw not in str(key.__dict__)
    assert Api(client, raw).get("/acme/parcels").status_code == 200
    listing = client.get(URL).content.decode()
    assert "nightly upload" in listing and raw[:8] in listing and raw not in listing


def test_keys_contain_lowercase_letters_as_the_roboflow_client_needs(client, owner):
    client.force_login(owner)
    for n in range(5):
        client.post(URL, {"name": f"k{n}", "scopes": ["read"]})
    assert ApiKey.objects.count() == 5


def test_a_key_needs_a_name_and_a_scope(client, manager):
    client.force_login(manager)
    response = client.post(URL, {"name": "", "scopes": ["read"]})
    assert response.status_code == 400 and "Give the key a name" in response.content.decode()
    response = client.post(URL, {"name": "x", "scopes": ["admin"]})
    assert response.status_code == 400 and "at least one scope" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_the_list_shows_last_use(client, manager, make_key):
    raw = make_key(manager)
    client.force_login(manager)
    assert "never" in client.get(URL).content.decode()
    Api(client, raw).get("/")
    assert "ago" in client.get(URL).content.decode()


def test_revoking_a_key_stops_it_at_once(client, manager, make_key):
    raw = make_key(manager)
    client.force_login(manager)
    key = ApiKey.objects.get()
    response = client.post(reverse("api-key-revoke", args=["acme", key.pk]))
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert Api(client, raw).get("/").status_code == 401
    assert "revoked" in client.get(URL).content.decode()


@pytest.mark.parametrize("persona", ["reviewer", "labeler", "viewer"])
def test_other_members_may_not_manage_keys(client, personas, persona):
    client.force_login(personas[persona])
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"name": "x", "scopes": ["read"]}).status_code == 403
    assert not ApiKey.objects.exists()


def test_outsiders_get_404_and_cannot_revoke(client, outsider, manager, make_key):
    make_key(manager)
    client.force_login(outsider)
    assert client.get(URL).status_code == 404
    key = ApiKey.objects.get()
    assert client.post(reverse("api-key-revoke", args=["acme", key.pk])).status_code == 404
    own = reverse("api-key-revoke", args=["other", key.pk])
    assert client.post(own).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_anonymous_visitors_are_sent_to_log_in(client, project):
    assert client.get(URL).status_code == 302


def test_the_home_page_links_to_keys_only_for_those_who_may_manage_them(client, manager, labeler, project):
    client.force_login(manager)
    assert URL in client.get(reverse("home")).content.decode()
    client.force_login(labeler)
    assert URL not in client.get(reverse("home")).content.decode()


def test_every_page_links_to_the_api_reference(client, labeler, project):
    client.force_login(labeler)
    assert reverse("api-reference") in client.get(reverse("home")).content.decode()
