"""API keys, scopes, roles, workspaces, rate limits and the error shape."""

import pytest
from django.utils import timezone

from accounts.models import ApiKey, Membership
from accounts.roles import Role
from tests.api_support import Api, error_of
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def test_it_answers_with_the_keys_workspace(api):
    response = api.get("/")
    assert response.status_code == 200
    assert response.json()["workspace"] == "acme"


def test_the_roboflow_client_checks_keys_with_a_post_to_the_root(api):
    assert api.post("/").json()["workspace"] == "acme"


def test_the_root_also_answers_without_its_slash(client, manager, make_key):
    response = client.get("/api", {"api_key": make_key(manager)})
    assert response.status_code == 200 and response.json()["workspace"] == "acme"


def test_a_bearer_header_works_like_the_query_parameter(client, manager, make_key):
    response = Api(client, make_key(manager), bearer=True).get("/acme")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("key", "message"),
    [(None, "No API key"), ("bbnotakey", "not valid"), ("", "No API key")],
)
def test_a_missing_or_bad_key_is_401(client, project, key, message):
    response = Api(client, key).get("/acme/parcels")
    assert response.status_code == 401
    error = error_of(response)
    assert message in error["message"] and error["type"] == "unauthorized"


def test_a_revoked_key_is_401(client, manager, make_key):
    raw = make_key(manager)
    ApiKey.objects.update(revoked_at=timezone.now())
    response = Api(client, raw).get("/")
    assert response.status_code == 401 and "revoked" in error_of(response)["message"]


def test_a_key_whose_creator_was_deactivated_is_401(client, manager, make_key):
    raw = make_key(manager)
    manager.is_active = False
    manager.save()
    assert Api(client, raw).get("/").status_code == 401


def test_a_key_whose_creator_left_the_workspace_is_403(client, manager, make_key):
    raw = make_key(manager)
    Membership.objects.filter(user=manager).delete()
    response = Api(client, raw).get("/acme")
    assert response.status_code == 403 and "no longer a member" in error_of(response)["message"]


def test_another_workspace_is_404_even_when_it_exists(client, api, outsider):
    ProjectFactory(workspace=outsider.memberships.get().workspace, slug="theirs")
    for path in ("/other", "/other/theirs", "/other/theirs/batches", "/other/theirs/jobs"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert error_of(response)["type"] == "not_found"


def test_an_outsiders_key_cannot_see_this_workspace(client, outsider, make_key, project):
    raw = make_key(outsider, workspace=outsider.memberships.get().workspace)
    assert Api(client, raw).get("/acme/parcels").status_code == 404


def test_a_project_of_another_workspace_is_404_for_uploads_too(client, outsider, make_key, project, image_file):
    raw = make_key(outsider, workspace=outsider.memberships.get().workspace)
    response = Api(client, raw).upload("parcels", image_file())
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("scopes", "method", "path", "needed"),
    [
        (["upload"], "get", "/acme/parcels/batches", "read"),
        (["read"], "upload", "parcels", "upload"),
        (["read", "upload"], "post", "/acme/parcels/jobs", "manage"),
        (["read", "upload"], "delete", "/acme/parcels/images", "manage"),
        (["read"], "post", "/dataset/parcels/annotate/1", "annotate"),
        (["read"], "post", "/acme/parcels/images/1/tags", "annotate"),
        (["manage"], "post", "/acme/parcels/search", "read"),
    ],
)
def test_a_key_without_the_scope_is_403(client, manager, make_key, project, image_file, scopes, method, path, needed):
    api = Api(client, make_key(manager, scopes))
    response = api.upload(path, image_file()) if method == "upload" else getattr(api, method)(path)
    assert response.status_code == 403
    error = error_of(response)
    assert f"“{needed}” scope" in error["message"] and error["type"] == "forbidden"


def test_the_creators_role_limits_a_key_with_every_scope(client, viewer, make_key, project, image_file):
    api = Api(client, make_key(viewer))
    assert api.get("/acme/parcels/batches").status_code == 200
    response = api.upload("parcels", image_file())
    assert response.status_code == 403 and "permission to upload" in error_of(response)["message"]


def test_a_labeler_key_cannot_delete_images(client, labeler, make_key, make_batch):
    batch = make_batch(1)
    response = Api(client, make_key(labeler)).delete("/acme/parcels/images", {"images": [batch.images.get().pk]})
    assert response.status_code == 403


def test_it_notes_when_a_key_was_last_used_at_most_once_a_minute(api):
    key = ApiKey.objects.get()
    assert key.last_used_at is None
    api.get("/")
    first = ApiKey.objects.get().last_used_at
    assert first is not None
    api.get("/")
    assert ApiKey.objects.get().last_used_at == first


def test_it_limits_each_keys_rate_with_retry_after(client, settings, manager, make_key):
    settings.API_RATE_LIMIT = 3
    settings.API_RATE_WINDOW = 60
    api, other = Api(client, make_key(manager)), Api(client, make_key(manager, name="other"))
    assert [api.get("/").status_code for _ in range(3)] == [200, 200, 200]
    response = api.get("/")
    assert response.status_code == 429
    assert error_of(response)["type"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert other.get("/").status_code == 200


def test_a_zero_limit_turns_rate_limiting_off(client, settings, manager, make_key):
    settings.API_RATE_LIMIT = 0
    api = Api(client, make_key(manager))
    assert {api.get("/").status_code for _ in range(5)} == {200}


def test_unknown_api_urls_are_json_404s(api):
    for path in ("/acme/parcels/nope", "/dataset/parcels", "/acme/parcels/batches/x", "/acme/parcels/batches/1/"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert error_of(response)["type"] == "not_found"


def test_huge_ids_are_404s_not_crashes(api, project):
    response = api.get("/acme/parcels/batches/99999999999999999999999")
    assert response.status_code == 404


def test_a_wrong_method_is_a_json_405_with_allow(api, project):
    response = api.delete("/acme/parcels/batches")
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"
    assert error_of(response)["type"] == "method_not_allowed"


def test_a_crash_is_a_json_500_not_a_traceback_page(api, project, monkeypatch):
    from boards import selectors

    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(selectors, "api_batches", boom)
    api.client.raise_request_exception = False
    response = api.get("/acme/parcels/batches")
    assert response.status_code == 500
    error = error_of(response)
    assert error["type"] == "server_error" and "bug" not in error["message"]


def test_pages_outside_the_api_keep_their_html_errors(client, manager):
    client.force_login(manager)
    response = client.get("/w/acme/p/nope/")
    assert response.status_code == 404 and not response["Content-Type"].startswith("application/json")


def test_the_api_needs_no_csrf_token(manager, make_key, project, image_file):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = Api(strict, make_key(manager)).upload("parcels", image_file())
    assert response.status_code == 200


def test_a_manager_key_works_for_an_owner_too(client, owner, make_key, project):
    assert Api(client, make_key(owner)).get("/acme/parcels").status_code == 200


def test_roles_come_from_the_membership_now_not_when_the_key_was_made(client, labeler, make_key, make_batch):
    batch = make_batch(1)
    api = Api(client, make_key(labeler))
    body = {"images": [batch.images.get().pk]}
    assert api.delete("/acme/parcels/images", body).status_code == 403
    Membership.objects.filter(user=labeler).update(role=Role.MANAGER)
    assert api.delete("/acme/parcels/images", body).status_code == 204
