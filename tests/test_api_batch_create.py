"""POST /api/{ws}/{project}/batches: a batch from image ids, by Labelbox's rules, all or nothing."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from accounts.models import ApiScope
from boards import services
from boards.models import MAX_BATCH_IMAGES, Batch, BatchStatus, Image
from tests.api_support import Api, error_of
from tests.factories import ImageFactory, ProjectFactory

pytestmark = pytest.mark.django_db

PATH = "/acme/parcels/batches"


@pytest.fixture
def free(project):
    """Six images of the project in no batch."""
    return [ImageFactory(project=project, batch=None).pk for _ in range(6)]


def unchanged(free):
    return Image.objects.filter(pk__in=free, free__isnull=False).count() == len(free)


def test_it_creates_an_unassigned_batch_of_exactly_the_listed_images(api, free, project):
    response = api.post(PATH, {"name": "Night shots", "imageIds": free[:4], "priority": 1})
    assert response.status_code == 201, response.content
    body = response.json()
    batch = Batch.objects.get(pk=body["id"])
    assert (batch.name, batch.priority, batch.status, batch.project_id) == (
        "Night shots",
        1,
        BatchStatus.UNASSIGNED,
        project.pk,
    )
    assert sorted(batch.images.values_list("pk", flat=True)) == sorted(free[:4])
    assert response["Location"].endswith(f"/batches/{batch.pk}")
    assert api.get(f"{PATH}/{batch.pk}").json()["id"] == body["id"]


def test_the_priority_defaults_to_three(api, free):
    response = api.post(PATH, {"name": "Default", "imageIds": free[:1]})
    assert response.status_code == 201 and Batch.objects.get(name="Default").priority == 3


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"imageIds": [1]}, "batch name"),
        ({"name": "   ", "imageIds": [1]}, "batch name"),
        ({"name": "x" * 201, "imageIds": [1]}, "200 at most"),
        ({"name": "No images"}, "imageIds"),
        ({"name": "No images", "imageIds": []}, "imageIds"),
        ({"name": "Bad", "imageIds": "1,2"}, "list of ids"),
        ({"name": "Bad", "imageIds": [1, "two"]}, "image id"),
        ({"name": "Bad", "imageIds": [1], "priority": 0}, "priority"),
        ({"name": "Bad", "imageIds": [1], "priority": 6}, "priority"),
        ({"name": "Bad", "imageIds": [1], "priority": "1"}, "priority"),
        ({"name": "Bad", "imageIds": [1], "priority": 2.5}, "priority"),
    ],
)
def test_a_broken_rule_is_a_400_that_names_it_and_changes_nothing(api, free, body, words):
    body = {**body, "imageIds": [free[0]] if body.get("imageIds") == [1] else body.get("imageIds")}
    if body["imageIds"] is None:
        del body["imageIds"]
    response = api.post(PATH, body)
    assert response.status_code == 400, response.content
    assert words.lower() in error_of(response)["message"].lower()
    assert Batch.objects.count() == 0 and unchanged(free)


def test_each_id_once(api, free):
    response = api.post(PATH, {"name": "Twice", "imageIds": [free[0], free[1], free[0], free[2], free[1]]})
    assert response.status_code == 400
    message = error_of(response)["message"]
    assert "more than once" in message and f"{free[0]}, {free[1]}" in message
    assert Batch.objects.count() == 0 and unchanged(free)


def test_at_most_25000_images(api, free):
    too_many = list(range(1, MAX_BATCH_IMAGES + 2))
    response = api.post(PATH, {"name": "Huge", "imageIds": too_many})
    assert response.status_code == 400 and "25,000" in error_of(response)["message"]
    assert Batch.objects.count() == 0


def test_a_name_the_project_has_is_refused(api, free, make_batch):
    make_batch(1, name="Taken")
    response = api.post(PATH, {"name": "Taken", "imageIds": free[:2]})
    assert response.status_code == 400 and "already a batch named" in error_of(response)["message"]
    assert unchanged(free)


def test_an_image_already_in_a_batch_of_the_project_refuses_the_whole_request(api, free, make_batch, manager):
    queued = make_batch(2)
    services.assign(batch=queued, actor=manager, labeler=manager)
    in_batch = list(queued.images.values_list("pk", flat=True))
    response = api.post(PATH, {"name": "Overlap", "imageIds": [*free[:3], *in_batch]})
    assert response.status_code == 409
    message = error_of(response)["message"]
    assert "2 images are already in a batch of this project (2 in Annotating)" in message
    assert all(str(pk) in message for pk in in_batch)
    assert Batch.objects.filter(name="Overlap").count() == 0 and unchanged(free)


def test_a_request_of_only_queued_images_is_a_409_too(api, make_batch):
    queued = make_batch(2)
    ids = list(queued.images.values_list("pk", flat=True))
    response = api.post(PATH, {"name": "All queued", "imageIds": ids})
    assert response.status_code == 409, response.content
    assert "2 images are already in a batch of this project (2 in Unassigned)" in error_of(response)["message"]
    assert not Batch.objects.filter(name="All queued").exists()


def test_images_of_another_project_or_workspace_are_unknown_here(api, free, workspace, outsider):
    other_project = ProjectFactory(workspace=workspace, slug="other-project")
    elsewhere = ImageFactory(project=other_project, batch=None).pk
    other_workspace = ImageFactory(project=ProjectFactory(workspace=outsider.memberships.get().workspace)).pk
    for stranger in (elsewhere, other_workspace, 10**17):
        response = api.post(PATH, {"name": f"With {stranger}", "imageIds": [free[0], stranger]})
        assert response.status_code == 400, response.content
        assert "not in this project" in error_of(response)["message"]
    assert Batch.objects.filter(project__slug="parcels").count() == 0 and unchanged(free)


@pytest.mark.parametrize("who", ["reviewer", "labeler", "viewer"])
def test_only_managers_create_batches(who, personas, client, make_key, free):
    response = Api(client, make_key(personas[who])).post(PATH, {"name": "Mine", "imageIds": free[:1]})
    assert response.status_code == 403
    assert Batch.objects.count() == 0


def test_a_key_without_the_manage_scope_is_refused(client, make_key, manager, free):
    key = make_key(manager, [s for s in ApiScope.values if s != ApiScope.MANAGE])
    response = Api(client, key).post(PATH, {"name": "Scoped", "imageIds": free[:1]})
    assert response.status_code == 403 and "manage" in error_of(response)["message"]
    assert Batch.objects.count() == 0


def test_another_workspaces_project_is_a_404(client, make_key, outsider, free):
    other = outsider.memberships.get().workspace
    response = Api(client, make_key(outsider, workspace=other)).post(PATH, {"name": "X", "imageIds": free[:1]})
    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_scripts_asking_for_the_same_images_at_once_never_share_one(project, manager, make_key, client):
    if connection.vendor != "postgresql":
        pytest.skip("real concurrent transactions need PostgreSQL")
    free = [ImageFactory(project=project, batch=None).pk for _ in range(40)]
    asks = [free[:30], free[10:]]  # overlapping by twenty
    key = make_key(manager)
    for round_ in range(6):
        Image.objects.filter(pk__in=free).set_batch(None)
        barrier, codes = threading.Barrier(2), {}

        def ask(n, round_=round_, barrier=barrier, codes=codes):
            from django.test import Client

            barrier.wait()
            body = {"name": f"r{round_}-{n}", "imageIds": asks[n]}
            codes[n] = Api(Client(), key).post(PATH, body).status_code
            connection.close()

        threads = [threading.Thread(target=ask, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(codes.values()) == [201, 409], codes
        winner = next(n for n, code in codes.items() if code == 201)
        made = Batch.objects.get(name__startswith=f"r{round_}-")  # the loser created nothing
        assert made.name == f"r{round_}-{winner}"
        assert sorted(made.images.values_list("pk", flat=True)) == sorted(asks[winner])  # all, not some
        assert Image.objects.filter(pk__in=free, free__isnull=False).count() == 10
        made.images.set_batch(None)
        made.delete()


# --- from the workspace catalog (assetIds) ------------------------------------------------


def test_a_script_adds_a_batch_to_another_project_from_asset_ids(api, project, manager, make_batch):
    from boards.models import Image
    from tests.factories import ProjectFactory

    other = ProjectFactory(workspace=project.workspace, name="Signs", slug="signs")
    batch = make_batch(3)
    listed = [api.get(f"/acme/parcels/images/{pk}").json() for pk in batch.images.values_list("pk", flat=True)]
    assets = [int(image["image"]["asset"]) for image in listed]
    response = api.post("/acme/signs/batches", {"name": "signs from parcels", "assetIds": assets, "priority": 2})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["numJobs"] == 0 and created["images"] == 3
    assert set(Image.objects.filter(project=other).values_list("asset_id", flat=True)) == set(assets)
    again = api.post("/acme/signs/batches", {"name": "again", "assetIds": assets})
    assert again.status_code == 409  # already queued in that project: the whole request is refused
    assert Image.objects.filter(project=other).count() == 3


def test_asset_ids_of_another_workspace_or_both_kinds_of_ids_are_refused(api, project, make_batch):
    from tests.factories import ImageFactory, ProjectFactory

    foreign = ImageFactory(project=ProjectFactory(slug="elsewhere"))
    mine = make_batch(1).images.get()
    response = api.post("/acme/parcels/batches", {"name": "x", "assetIds": [foreign.asset_id]})
    assert response.status_code == 400 and "not in this workspace" in response.json()["error"]["message"]
    both = api.post("/acme/parcels/batches", {"name": "x", "assetIds": [mine.asset_id], "imageIds": [mine.pk]})
    assert both.status_code == 400 and "either" in both.json()["error"]["message"]
    twice = api.post("/acme/parcels/batches", {"name": "x", "assetIds": [mine.asset_id, mine.asset_id]})
    assert twice.status_code == 400 and "more than once" in twice.json()["error"]["message"]
