"""Reading through the API: Roboflow's shapes, with our fields beside theirs."""

import pytest

from boards import services
from boards.formats.box import Box
from boards.models import AnnotationState, Batch, Image, LabelClass, Split, Tag
from tests.factories import BatchFactory, ImageFactory

pytestmark = pytest.mark.django_db

PROJECT_KEYS = {
    "id",
    "name",
    "type",
    "created",
    "updated",
    "images",
    "unannotated",
    "annotation",
    "versions",
    "public",
    "splits",
    "classes",
    "colors",
}


@pytest.fixture
def annotated(project, make_batch, manager):
    """A batch of three images, one with two boxes, in the train split."""
    LabelClass.objects.create(project=project, name="car", color="#ff0000")
    LabelClass.objects.create(project=project, name="bike", color="#00ff00")
    batch = make_batch(3)
    first = batch.images.order_by("pk").first()
    services.save_annotations(image=first, actor=manager, boxes=[Box("car", 4, 6, 20, 24), Box("car", 1, 1, 2, 2)])
    Image.objects.filter(pk=first.pk).update(split=Split.TRAIN)
    first.tags.add(Tag.objects.create(project=project, name="night"))
    return batch


def test_the_workspace_lists_its_projects_with_counts(api, annotated, reviewer, labeler):
    body = api.get("/acme").json()
    workspace = body["workspace"]
    assert (workspace["name"], workspace["url"], workspace["members"]) == ("Acme", "acme", 3)
    (project,) = workspace["projects"]
    assert set(project) >= PROJECT_KEYS
    assert project["id"] == "acme/parcels" and project["type"] == "object-detection"
    assert (project["images"], project["unannotated"]) == (3, 2)
    assert project["splits"] == {"train": 1, "valid": 0, "test": 0}
    assert project["classes"] == {"car": 2, "bike": 0}
    assert project["colors"] == {"car": "#ff0000", "bike": "#00ff00"}
    assert isinstance(project["created"], float) and project["public"] is False


def test_the_project_answers_as_the_roboflow_client_reads_it(api, annotated):
    body = api.get("/acme/parcels").json()
    assert body["versions"] == []
    assert set(body["project"]) >= PROJECT_KEYS
    assert body["project"]["reviewMode"] is True


def test_an_unknown_project_is_404(api, project):
    assert api.get("/acme/nope").status_code == 404


def test_batches_have_roboflows_fields_and_ours(api, annotated, manager, labeler):
    services.assign(batch=annotated, actor=manager, labeler=labeler)
    BatchFactory(project=annotated.project, name="Empty one", priority=1)
    body = api.get("/acme/parcels/batches").json()
    first, second = body["batches"]
    assert set(first) == {"name", "numJobs", "images", "uploaded", "id", "status", "priority"}
    assert first["id"] == str(annotated.pk) and first["name"] == annotated.name
    assert (first["images"], first["numJobs"], first["status"]) == (3, 1, "annotating")
    assert set(first["uploaded"]) == {"_seconds", "_nanoseconds"}
    assert first["uploaded"]["_seconds"] == int(annotated.uploaded_at.timestamp())
    assert (second["images"], second["numJobs"], second["priority"]) == (0, 0, 1)


def test_one_batch_is_the_bare_object(api, annotated):
    body = api.get(f"/acme/parcels/batches/{annotated.pk}").json()
    assert body["id"] == str(annotated.pk) and body["images"] == 3


def test_a_batch_of_another_project_is_404(api, project, workspace):
    from tests.factories import ProjectFactory

    other = BatchFactory(project=ProjectFactory(workspace=workspace, slug="other"))
    assert api.get(f"/acme/parcels/batches/{other.pk}").status_code == 404


def test_listing_batches_costs_the_same_queries_for_many(api, project, django_assert_max_num_queries):
    for n in range(30):
        batch = BatchFactory(project=project, name=f"b{n}")
        ImageFactory(project=project, batch=batch)
    with django_assert_max_num_queries(8):
        response = api.get("/acme/parcels/batches")
    assert len(response.json()["batches"]) == 30


def test_jobs_count_their_images_by_state(api, annotated, manager, labeler, reviewer):
    services.assign(batch=annotated, actor=manager, labeler=labeler, reviewer=reviewer, job_name="Round 1")
    body = api.get("/acme/parcels/jobs").json()
    (job,) = body["jobs"]
    assert job["name"] == "Round 1" and job["status"] == "assigned"
    assert (job["numImages"], job["annotated"], job["unannotated"], job["approved"], job["rejected"]) == (3, 1, 2, 0, 0)
    assert (job["labeler"], job["reviewer"]) == ("labeler@acme.test", "reviewer@acme.test")
    assert job["sourceBatch"] == f"parcels/{annotated.pk}" and job["batch"] == str(annotated.pk)
    assert set(job["created"]) == {"_seconds", "_nanoseconds"}
    assert api.get(f"/acme/parcels/jobs/{job['id']}").json() == job


def test_an_unknown_job_is_404(api, project):
    assert api.get("/acme/parcels/jobs/12345").status_code == 404


def test_an_image_has_boxes_centred_as_roboflow_sends_them(api, annotated):
    image = annotated.images.order_by("pk").first()
    body = api.get(f"/acme/parcels/images/{image.pk}").json()["image"]
    assert body["id"] == str(image.pk) and body["name"] == image.original_filename
    assert body["annotation"]["width"] == 64 and body["annotation"]["height"] == 48
    assert body["annotation"]["boxes"][0] == {"label": "car", "x": 14.0, "y": 18.0, "width": 20.0, "height": 24.0}
    assert body["labels"] == ["car"] and body["split"] == "train" and body["tags"] == ["night"]
    assert body["status"] == AnnotationState.ANNOTATED and body["batch"] == str(annotated.pk)
    assert body["urls"]["original"].endswith(f"/api/acme/parcels/images/{image.pk}/original")


def test_the_image_urls_serve_the_files_to_the_key(api, annotated):
    image = annotated.images.first()
    urls = api.get(f"/acme/parcels/images/{image.pk}").json()["image"]["urls"]
    for kind, url in urls.items():
        response = api.client.get(url, {"api_key": api.key})
        assert response.status_code == 200, kind
        assert response["Content-Type"] == "image/jpeg"
        assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    assert api.client.get(urls["original"]).status_code == 401
    assert api.get(f"/acme/parcels/images/{image.pk}/other").status_code == 404


def test_an_image_of_another_project_is_404(api, annotated, workspace):
    from tests.factories import ProjectFactory

    stray = ImageFactory(project=ProjectFactory(workspace=workspace, slug="other"))
    assert api.get(f"/acme/parcels/images/{stray.pk}").status_code == 404


def test_search_pages_and_filters(api, annotated):
    first = annotated.images.order_by("pk").first()
    everything = api.post("/acme/parcels/search", {}).json()
    assert everything["total"] == 3 and len(everything["results"]) == 3
    assert set(everything["results"][0]) == {"id", "created", "name", "labels"}
    page = api.post("/acme/parcels/search", {"offset": 1, "limit": 1}).json()
    assert page["total"] == 3 and [r["id"] for r in page["results"]] == [str(annotated.images.order_by("pk")[1].pk)]
    for query in ({"tag": "night"}, {"class_name": "car"}, {"prompt": first.original_filename.upper()}):
        results = api.post("/acme/parcels/search", query).json()["results"]
        assert [r["id"] for r in results] == [str(first.pk)], query
    assert api.post("/acme/parcels/search", {"in_dataset": True}).json()["total"] == 0
    assert api.post("/acme/parcels/search", {"batch_id": str(annotated.pk), "batch": True}).json()["total"] == 3
    assert api.post("/acme/parcels/search", {"annotation_job": True}).json()["total"] == 0


def test_search_returns_the_fields_asked_for(api, annotated):
    first = annotated.images.order_by("pk").first()
    body = api.post("/acme/parcels/search", {"tag": "night", "fields": ["id", "tags", "split", "annotations", "x"]})
    (result,) = body.json()["results"]
    assert result["tags"] == ["night"] and result["split"] == "train" and result["id"] == str(first.pk)
    assert len(result["annotations"]["boxes"]) == 2 and "x" not in result


@pytest.mark.parametrize(
    "body",
    [
        {"limit": 0},
        {"limit": 251},
        {"offset": -1},
        {"offset": "1"},
        {"in_dataset": "maybe"},
        {"batch_id": "x"},
        {"fields": "id"},
        {"like_image": "123"},
        [],
        "not json",
    ],
)
def test_bad_search_input_is_400(api, project, body):
    response = api.post("/acme/parcels/search", body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid"


def test_search_by_job(api, annotated, manager, labeler):
    job = services.assign(batch=annotated, actor=manager, labeler=labeler).job
    assert api.post("/acme/parcels/search", {"annotation_job_id": str(job.pk)}).json()["total"] == 3
    assert api.post("/acme/parcels/search", {"annotation_job": True}).json()["total"] == 3


def test_search_in_dataset(api, project, make_batch):
    batch = make_batch(2)
    Batch.objects.filter(pk=batch.pk).update(status="dataset")
    make_batch(1)
    assert api.post("/acme/parcels/search", {"in_dataset": True}).json()["total"] == 2
    assert api.post("/acme/parcels/search", {"in_dataset": False}).json()["total"] == 1


def test_the_workspace_jobs_and_search_cost_a_fixed_number_of_queries(
    api, workspace, project, manager, labeler, django_assert_max_num_queries
):
    from tests.factories import ProjectFactory

    for n in range(6):
        other = ProjectFactory(workspace=workspace, slug=f"p{n}")
        batch = BatchFactory(project=other)
        ImageFactory(project=other, batch=batch)
    for n in range(6):
        batch = BatchFactory(project=project, name=f"b{n}")
        ImageFactory(project=project, batch=batch)
        services.assign(batch=batch, actor=manager, labeler=labeler)
    with django_assert_max_num_queries(10):
        assert len(api.get("/acme").json()["workspace"]["projects"]) == 7
    with django_assert_max_num_queries(8):
        assert len(api.get("/acme/parcels/jobs").json()["jobs"]) == 6
    with django_assert_max_num_queries(10):
        body = {"fields": ["id", "labels", "tags", "annotations"]}
        assert len(api.post("/acme/parcels/search", body).json()["results"]) == 6
