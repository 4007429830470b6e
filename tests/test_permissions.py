"""The role table, answered through user.has_perm(perm, obj) for every layer."""

import pytest
from django.http import HttpRequest

from accounts.roles import ROLE_PERMISSIONS, Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("owner", True),
        ("manager", True),
        ("reviewer", True),
        ("labeler", False),
        ("viewer", False),
        ("outsider", False),
    ],
)
def test_review_permission_is_exactly_owners_managers_and_reviewers(who, expected, personas, make_batch):
    batch = make_batch(1)
    assert personas[who].has_perm("boards.review_batch", batch) is expected


@pytest.mark.parametrize("perm", sorted(set().union(*ROLE_PERMISSIONS.values())))
@pytest.mark.parametrize("role", list(Role))
def test_every_role_gets_exactly_its_row_of_the_table(perm, role, workspace, project):
    from tests.factories import MembershipFactory

    user = MembershipFactory(workspace=workspace, role=role).user
    assert user.has_perm(perm, project) is (perm in ROLE_PERMISSIONS[role])


def test_outsiders_get_nothing_even_as_managers_elsewhere(outsider, project):
    assert not any(outsider.has_perm(p, project) for p in ROLE_PERMISSIONS[Role.OWNER])


def test_without_an_object_no_workspace_permission_is_granted(manager):
    assert not manager.has_perm("boards.assign_batch")


def test_inactive_members_get_nothing(manager, project):
    manager.is_active = False
    manager.save()
    assert not manager.has_perm("boards.view_project", project)


def test_roles_are_read_once_per_user_object(manager, project, make_batch, django_assert_num_queries):
    batches = [make_batch(0) for _ in range(5)]
    manager.workspace_roles()
    with django_assert_num_queries(0):
        for batch in batches:
            batch.project = project
            assert manager.has_perm("boards.assign_batch", batch)


def test_email_is_the_login(client, manager):
    # Login throttling (django-axes) needs the request that tries the password.
    assert client.login(request=HttpRequest(), username="MANAGER@acme.test", password="pw")


# --- the API: the key's creator's role decides, as on the pages -----------------------

MANAGERS = {"owner", "manager"}
MEMBERS = {"owner", "manager", "reviewer", "labeler", "viewer"}


def _api_as(who, personas, client, make_key):
    from accounts.models import Workspace
    from tests.api_support import Api

    if who == "outsider":  # an all-scopes key of their own workspace, pointed at this one
        return Api(client, make_key(personas[who], workspace=Workspace.objects.get(slug="other")))
    return Api(client, make_key(personas[who]))


@pytest.mark.parametrize("operation", ["add", "remove", "set"])
@pytest.mark.parametrize("who", ["owner", "manager", "reviewer", "labeler", "viewer", "outsider"])
def test_api_tagging_follows_the_role_table(who, operation, personas, client, make_key, make_batch, project):
    from boards import services
    from boards.models import Image, Tag

    image = make_batch(1).images.get()
    services.change_image_tags(image=image, actor=personas["manager"], operation="add", tags=["keep", "night"])
    api = _api_as(who, personas, client, make_key)
    response = api.post(f"/acme/parcels/images/{image.pk}/tags", {"operation": operation, "tags": ["night", "rain"]})
    after = sorted(Image.objects.get(pk=image.pk).tags.values_list("name", flat=True))
    if who in MANAGERS:
        assert response.status_code == 200, response.content
        assert after == {"add": ["keep", "night", "rain"], "remove": ["keep"], "set": ["night", "rain"]}[operation]
        assert response.json()["tags"] == after
    else:
        assert response.status_code == (404 if who == "outsider" else 403), response.content
        assert after == ["keep", "night"]
        assert not Tag.objects.filter(name="rain").exists()
    assert personas[who].has_perm("boards.tag_images", project) is (who in MANAGERS)


@pytest.mark.parametrize("who", ["reviewer", "labeler", "viewer", "outsider"])
def test_the_tag_service_itself_refuses_whoever_the_table_refuses(who, personas, make_batch):
    from boards import services
    from boards.models import Image
    from core.errors import NotAllowed

    image = make_batch(1).images.get()
    services.change_image_tags(image=image, actor=personas["manager"], operation="add", tags=["keep"])
    with pytest.raises(NotAllowed):
        services.change_image_tags(image=image, actor=personas[who], operation="set", tags=[])
    assert list(Image.objects.get(pk=image.pk).tags.values_list("name", flat=True)) == ["keep"]


@pytest.mark.parametrize("who", ["owner", "manager", "reviewer", "labeler", "viewer", "outsider"])
def test_api_actions_follow_the_role_table(who, personas, client, make_key, make_batch):
    """Every API write, as each persona's own all-scopes key: allowed or refused, and the database after."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from boards.models import Annotation, Image, Job
    from tests.api_support import voc
    from tests.factories import jpeg_bytes

    api = _api_as(who, personas, client, make_key)
    refused = 404 if who == "outsider" else 403
    batch = make_batch(2)
    first, second = batch.images.order_by("pk")

    read = api.get(f"/acme/parcels/images/{first.pk}")
    assert read.status_code == (200 if who in MEMBERS else 404)

    photo = SimpleUploadedFile("new.jpg", jpeg_bytes(color=(1, 2, 3)), content_type="image/jpeg")
    upload = api.upload("parcels", photo, name="new.jpg")
    assert upload.status_code == (200 if who in MANAGERS else refused), upload.content
    assert Image.objects.filter(original_filename="new.jpg").exists() is (who in MANAGERS)

    annotate = api.post(
        f"/dataset/parcels/annotate/{first.pk}",
        {"annotationFile": voc("car", width=first.width, height=first.height)},
        params={"name": "a.xml"},
    )
    assert annotate.status_code == (200 if who in MANAGERS else refused), annotate.content
    assert Annotation.objects.filter(image=first).exists() is (who in MANAGERS)

    delete = api.delete("/acme/parcels/images", {"images": [second.pk]})
    assert delete.status_code == (204 if who in MANAGERS else refused), delete.content
    assert Image.objects.filter(pk=second.pk).exists() is (who not in MANAGERS)

    job = api.post("/acme/parcels/jobs", {"batch": batch.pk, "labelerEmail": "labeler@acme.test"})
    assert job.status_code == (200 if who in MANAGERS else refused), job.content
    assert Job.objects.filter(batch=batch).exists() is (who in MANAGERS)
