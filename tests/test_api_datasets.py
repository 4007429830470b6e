"""The workspace catalog's datasets through the API: the list by name, one dataset, and who may read them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import ApiScope
from boards import services
from boards.models import Asset, Dataset
from tests.api_support import Api, error_of
from tests.factories import ImageFactory, ProjectFactory

pytestmark = pytest.mark.django_db

KEYS = {"id", "name", "images", "created"}


@pytest.fixture
def signs(workspace):
    return ProjectFactory(workspace=workspace, name="Signs", slug="signs")


@pytest.fixture
def catalog(project, signs, manager):
    """Acme's catalog: Parcels's three pictures, Signs's two (one of them Parcels's too), an empty dataset."""
    parcels_images = [ImageFactory(project=project) for _ in range(3)]
    ImageFactory(project=signs)
    services.add_batch_to_project(
        project=signs,
        actor=manager,
        name="Shared",
        asset_ids=[parcels_images[0].asset_id],
    )
    Dataset.objects.create(workspace=project.workspace, name="archive 2019")
    return {d.name: d for d in Dataset.objects.filter(workspace=project.workspace)}


@pytest.fixture
def foreign(outsider):
    """Another workspace's project, with a picture in its own dataset."""
    theirs = ProjectFactory(workspace=outsider.memberships.get().workspace, name="Theirs", slug="theirs")
    return ImageFactory(project=theirs).asset.dataset


def test_the_list_has_every_dataset_of_the_workspace_by_name_whatever_its_case_with_its_image_count(
    api, catalog, foreign
):
    response = api.get("/acme/datasets")
    assert response.status_code == 200
    datasets = response.json()["datasets"]
    assert [(d["name"], d["images"]) for d in datasets] == [("archive 2019", 0), ("Parcels", 3), ("Signs", 1)]
    assert all(set(d) == KEYS for d in datasets)
    assert [d["id"] for d in datasets] == [str(catalog[name].pk) for name in ("archive 2019", "Parcels", "Signs")]
    parcels = datasets[1]
    assert parcels["created"] == round(catalog["Parcels"].created_at.timestamp(), 3)


def test_a_picture_two_projects_use_counts_once_in_its_dataset(api, catalog, project, signs):
    assert Asset.objects.filter(workspace=project.workspace).count() == 4
    images = {d["name"]: d["images"] for d in api.get("/acme/datasets").json()["datasets"]}
    assert sum(images.values()) == 4
    assert project.images.count() + signs.images.count() == 5


def test_a_workspace_without_datasets_lists_none(api, project):
    assert api.get("/acme/datasets").json() == {"datasets": []}


def test_one_dataset_answers_with_its_image_count(api, catalog):
    parcels = catalog["Parcels"]
    response = api.get(f"/acme/datasets/{parcels.pk}")
    assert response.status_code == 200
    assert response.json() == {
        "dataset": {
            "id": str(parcels.pk),
            "name": "Parcels",
            "images": 3,
            "created": round(parcels.created_at.timestamp(), 3),
        }
    }


def test_a_dataset_of_another_workspace_is_404(api, catalog, foreign):
    response = api.get(f"/acme/datasets/{foreign.pk}")
    assert response.status_code == 404
    assert error_of(response)["type"] == "not_found"


@pytest.mark.parametrize("dataset_id", ["abc", "-1", "1.5", "²", "٣", "0", "9" * 18, "9" * 19, "1e3", "%00"])
def test_malformed_and_unknown_ids_are_json_404s(api, catalog, dataset_id):
    response = api.get(f"/acme/datasets/{dataset_id}")
    assert response.status_code == 404, response.content[:200]
    assert error_of(response)["type"] == "not_found"


def test_another_workspaces_key_does_not_see_this_workspace(client, catalog, outsider, make_key, foreign):
    raw = make_key(outsider, workspace=outsider.memberships.get().workspace)
    theirs = Api(client, raw)
    for path in ("/acme/datasets", f"/acme/datasets/{catalog['Parcels'].pk}"):
        response = theirs.get(path)
        assert response.status_code == 404 and "No such workspace" in error_of(response)["message"], path
    assert [d["name"] for d in theirs.get("/other/datasets").json()["datasets"]] == ["Theirs"]
    assert theirs.get(f"/other/datasets/{catalog['Parcels'].pk}").status_code == 404


@pytest.mark.parametrize("path", ["/acme/datasets", "/acme/datasets/{pk}"])
def test_a_key_without_the_read_scope_is_403(client, manager, make_key, catalog, path):
    scopes = [scope for scope in ApiScope.values if scope != ApiScope.READ]
    response = Api(client, make_key(manager, scopes)).get(path.format(pk=catalog["Parcels"].pk))
    assert response.status_code == 403
    error = error_of(response)
    assert error["type"] == "forbidden" and "“read” scope" in error["message"]


def test_a_read_only_key_of_any_member_reads_them(client, viewer, make_key, catalog):
    api = Api(client, make_key(viewer, [ApiScope.READ]), bearer=True)
    assert len(api.get("/acme/datasets").json()["datasets"]) == 3
    assert api.get(f"/acme/datasets/{catalog['Signs'].pk}").json()["dataset"]["images"] == 1


def test_without_a_key_it_is_401(client, catalog):
    response = Api(client, None).get("/acme/datasets")
    assert response.status_code == 401 and error_of(response)["type"] == "unauthorized"


def test_only_get_is_allowed(api, catalog):
    for path in ("/acme/datasets", f"/acme/datasets/{catalog['Parcels'].pk}"):
        response = api.post(path, {"name": "New"})
        assert response.status_code == 405 and response["Allow"] == "GET", path


def test_the_list_takes_the_same_queries_however_many_datasets(api, project):
    Dataset.objects.create(workspace=project.workspace, name="one")
    api.get("/acme/datasets")  # the key's first use of the minute also records it
    with CaptureQueriesContext(connection) as few:
        assert len(api.get("/acme/datasets").json()["datasets"]) == 1
    for n in range(20):
        Dataset.objects.create(workspace=project.workspace, name=f"more {n}")
        ImageFactory(project=project)
    with CaptureQueriesContext(connection) as many:
        assert len(api.get("/acme/datasets").json()["datasets"]) == 22
    assert len(many) == len(few)


def test_a_project_named_datasets_keeps_its_batch_paths(api, workspace, catalog):
    ProjectFactory(workspace=workspace, name="Datasets", slug="datasets")
    assert "datasets" in api.get("/acme/datasets").json()  # the catalog's list, not the project
    assert api.get("/acme/datasets/batches").json() == {"batches": []}
