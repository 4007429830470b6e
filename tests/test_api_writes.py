"""Changing things through the API: tags, deleting images, jobs and moving batches."""

import pytest

from boards import services
from boards.models import Annotation, AnnotationState, Batch, BatchEvent, BatchStatus, Image, Job, Tag
from tests.api_support import Api, error_of
from tests.factories import set_images

pytestmark = pytest.mark.django_db


# --- tags ---------------------------------------------------------------------------


def test_tags_are_added_removed_and_set(api, make_batch):
    image = make_batch(1).images.get()
    url = f"/acme/parcels/images/{image.pk}/tags"
    assert api.post(url, {"operation": "add", "tags": ["b", "a"]}).json() == {"success": True, "tags": ["a", "b"]}
    assert api.post(url, {"operation": "add", "tags": "c"}).json()["tags"] == ["a", "b", "c"]
    assert api.post(url, {"operation": "remove", "tags": ["a"]}).json()["tags"] == ["b", "c"]
    assert api.post(url, {"operation": "set", "tags": ["z"]}).json()["tags"] == ["z"]
    assert api.post(url, {"operation": "set", "tags": []}).json()["tags"] == []
    assert set(Tag.objects.values_list("name", flat=True)) == {"a", "b", "c", "z"}


@pytest.mark.parametrize(
    "body",
    [
        {"operation": "replace", "tags": ["a"]},
        {"tags": ["a"]},
        {"operation": "add", "tags": [1]},
        {"operation": "add", "tags": {"a": 1}},
        {"operation": "add", "tags": ["x" * 101]},
    ],
)
def test_bad_tag_requests_are_400(api, make_batch, body):
    image = make_batch(1).images.get()
    response = api.post(f"/acme/parcels/images/{image.pk}/tags", body)
    assert response.status_code == 400
    assert error_of(response)["type"] == "invalid"


def test_viewers_may_not_tag(client, viewer, make_key, make_batch):
    image = make_batch(1).images.get()
    response = Api(client, make_key(viewer)).post(
        f"/acme/parcels/images/{image.pk}/tags", {"operation": "add", "tags": ["x"]}
    )
    assert response.status_code == 403


# --- deleting images --------------------------------------------------------------


def test_images_in_unassigned_batches_or_no_batch_are_deleted(
    api, make_batch, project, settings, django_capture_on_commit_callbacks
):
    batch = make_batch(3)
    first, second, third = batch.images.order_by("pk")
    set_images(Image.objects.filter(pk=third.pk), batch=None)
    files = [settings.MEDIA_ROOT / first.file.name, settings.MEDIA_ROOT / first.thumbnail.name]
    assert all(f.exists() for f in files)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete("/acme/parcels/images", {"images": [str(first.pk), third.pk]})
    assert response.status_code == 204 and response.content == b""
    assert list(Image.objects.values_list("pk", flat=True)) == [second.pk]
    assert not any(f.exists() for f in files)
    event = BatchEvent.objects.get(batch=batch, kind="removed")
    assert event.detail["images_removed"] == 1


def test_images_further_along_the_board_are_refused_with_a_reason(api, make_batch, manager, labeler):
    free = make_batch(1)
    busy = make_batch(2, name="Downtown")
    services.assign(batch=busy, actor=manager, labeler=labeler)
    ids = [free.images.get().pk, busy.images.first().pk]
    response = api.delete("/acme/parcels/images", {"images": ids})
    assert response.status_code == 409
    message = error_of(response)["message"]
    assert "“Downtown” is in Annotating" in message and "move those batches to Unassigned" in message
    assert Image.objects.count() == 3


def test_deleting_an_image_not_in_the_project_is_404(api, make_batch):
    image = make_batch(1).images.get()
    response = api.delete("/acme/parcels/images", {"images": [image.pk, 98765]})
    assert response.status_code == 404 and "98765" in error_of(response)["message"]
    assert Image.objects.count() == 1


@pytest.mark.parametrize("body", [{}, {"images": "1"}, {"images": []}, {"images": ["x"]}, {"images": [True]}])
def test_bad_delete_requests_are_400(api, project, body):
    response = api.delete("/acme/parcels/images", body)
    assert response.status_code == 400


def test_deleting_removes_annotations_and_tags(api, make_batch, manager, project):
    image = make_batch(1).images.get()
    services.save_annotations(image=image, actor=manager, boxes=[services.Box("car", 1, 1, 5, 5)], create_labels=True)
    services.change_image_tags(image=image, actor=manager, operation="add", tags=["x"])
    assert api.delete("/acme/parcels/images", {"images": [image.pk]}).status_code == 204
    assert not Annotation.objects.exists() and not Image.tags.through.objects.exists()


# --- jobs ---------------------------------------------------------------------------


def job_body(source, **extra):
    return {
        "name": "Round 1",
        "batch": str(source.pk),
        "labelerEmail": "labeler@acme.test",
        "reviewerEmail": "reviewer@acme.test",
        **extra,
    }


def test_a_job_assigns_part_of_a_batch_and_the_rest_splits_off(api, make_batch, labeler, reviewer):
    batch = make_batch(5)
    response = api.post("/acme/parcels/jobs", job_body(batch, num_images=2))
    assert response.status_code == 200
    job = response.json()
    assert (job["name"], job["numImages"], job["status"], job["labeler"], job["reviewer"]) == (
        "Round 1",
        2,
        "assigned",
        "labeler@acme.test",
        "reviewer@acme.test",
    )
    batch.refresh_from_db()
    assert batch.status == BatchStatus.ANNOTATING and batch.images.count() == 2
    rest = Batch.objects.get(split_from=batch)
    assert rest.status == BatchStatus.UNASSIGNED and rest.images.count() == 3
    assert Image.objects.count() == 5


def test_a_job_of_all_images_assigns_the_whole_batch(api, make_batch, labeler, reviewer):
    batch = make_batch(3)
    for body in (job_body(batch), job_body(make_batch(2), num_images=2)):
        assert api.post("/acme/parcels/jobs", body).status_code == 200
    assert not Batch.objects.filter(split_from__isnull=False).exists()


def test_a_labeler_named_as_their_own_reviewer_gets_no_separate_review(api, make_batch, labeler):
    batch = make_batch(2)
    job = api.post("/acme/parcels/jobs", job_body(batch, reviewerEmail="labeler@acme.test")).json()
    assert job["reviewer"] is None and Job.objects.get().reviewer is None


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"labelerEmail": "nobody@acme.test"}, 400, "No member"),
        ({"labelerEmail": "viewer@acme.test"}, 400, "cannot label"),
        ({"num_images": 0}, 400, "at least 1"),
        ({"num_images": "two"}, 400, "whole number"),
        ({"batch": "x"}, 400, "not a valid id"),
        ({"batch": "424242"}, 404, "This batch does not exist"),
        ({"labelerEmail": None}, 400, "required"),
    ],
)
def test_bad_job_requests(api, make_batch, labeler, reviewer, viewer, change, status, message):
    response = api.post("/acme/parcels/jobs", job_body(make_batch(2), **change))
    assert response.status_code == status
    assert message in error_of(response)["message"]


def test_a_batch_already_assigned_cannot_get_a_second_job(api, make_batch, labeler, reviewer):
    batch = make_batch(2)
    api.post("/acme/parcels/jobs", job_body(batch))
    response = api.post("/acme/parcels/jobs", job_body(batch))
    assert response.status_code == 409


def test_only_managers_create_jobs(client, reviewer, labeler, make_key, make_batch):
    response = Api(client, make_key(reviewer)).post("/acme/parcels/jobs", job_body(make_batch(2)))
    assert response.status_code == 403


# --- moving batches ------------------------------------------------------------------


def move(api, batch, to, **body):
    return api.post(f"/acme/parcels/batches/{batch.pk}/move", {"to": to, **body})


def test_a_batch_moves_across_the_board_like_a_card(client, api, make_batch, labeler, reviewer, make_key):
    batch = make_batch(2)
    response = move(api, batch, "annotating", labelerEmail="labeler@acme.test", reviewerEmail="reviewer@acme.test")
    assert response.status_code == 200 and response.json()["status"] == "annotating"
    set_images(Image.objects.filter(placement__batch=batch), annotation_state=AnnotationState.EMPTY)
    labeler_api = Api(client, make_key(labeler))
    assert move(labeler_api, batch, "review").json()["status"] == "review"
    reviewer_api = Api(client, make_key(reviewer))
    assert move(reviewer_api, batch, "dataset").json()["status"] == "dataset"
    assert move(api, batch, "unassigned", keepAnnotations=True).json()["status"] == "unassigned"


def test_assigning_some_images_splits_the_rest_off(api, make_batch, labeler):
    batch = make_batch(3)
    first = batch.images.order_by("pk").first()
    body = move(api, batch, "annotating", labelerEmail="labeler@acme.test", images=[str(first.pk)]).json()
    assert body["images"] == 1 and Batch.objects.get(split_from=batch).images.count() == 2


def test_a_reviewer_rejects_a_batch_back_to_annotating(client, api, make_batch, manager, labeler, reviewer, make_key):
    batch = make_batch(1)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    set_images(Image.objects.filter(placement__batch=batch), annotation_state=AnnotationState.EMPTY)
    services.submit(batch=Batch.objects.get(pk=batch.pk), actor=labeler)
    response = move(Api(client, make_key(reviewer)), batch, "annotating", comment="Too loose")
    assert response.json()["status"] == "annotating"


@pytest.mark.parametrize(
    ("to", "extra", "status", "message"),
    [
        ("review", {}, 409, "cannot move from Unassigned to Review"),
        ("dataset", {}, 409, "cannot move from Unassigned to Dataset"),
        ("trash", {}, 400, "“to” is one of"),
        ("", {}, 400, "required"),
    ],
)
def test_impossible_moves_say_why(api, make_batch, to, extra, status, message):
    response = move(api, make_batch(1), to, **extra)
    assert response.status_code == status
    assert message in error_of(response)["message"]


def test_a_move_to_the_column_the_batch_is_in_changes_nothing(api, make_batch):
    batch = make_batch(1)
    response = move(api, batch, "unassigned")
    assert response.status_code == 200 and response.json()["status"] == "unassigned"
    assert not BatchEvent.objects.filter(batch=batch).exclude(kind="created").exists()


def test_moving_back_to_unassigned_needs_a_choice_about_annotations(api, make_batch, manager, labeler):
    batch = make_batch(1)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    response = move(api, batch, "unassigned")
    assert response.status_code == 400 and "“keepAnnotations”" in error_of(response)["message"]
    assert move(api, batch, "unassigned", keepAnnotations=False).json()["status"] == "unassigned"


def test_assigning_without_a_labeler_says_what_is_missing(api, make_batch):
    response = move(api, make_batch(1), "annotating")
    assert response.status_code == 400 and "“labelerEmail”" in error_of(response)["message"]


def test_a_batch_moved_meanwhile_is_refused(api, make_batch, manager, labeler):
    batch = make_batch(1)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    response = move(api, batch, "unassigned", keepAnnotations=True, **{"from": "unassigned"})
    assert response.status_code == 409 and "moved this batch to Annotating" in error_of(response)["message"]


def test_archiving_needs_the_manage_scope(client, api, make_batch, manager, make_key):
    batch = make_batch(1)
    response = move(Api(client, make_key(manager, ["read", "annotate"])), batch, "archived")
    assert response.status_code == 403
    assert move(api, batch, "archived").json()["status"] == "archived"


def test_submitting_needs_every_image_done(client, make_batch, manager, labeler, make_key):
    batch = make_batch(2)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    response = move(Api(client, make_key(labeler)), batch, "review")
    assert response.status_code == 409 and "not annotated yet" in error_of(response)["message"]


def test_moves_follow_the_same_role_rules_as_the_board(client, make_batch, labeler, make_key):
    response = move(Api(client, make_key(labeler)), make_batch(1), "annotating", labelerEmail="labeler@acme.test")
    assert response.status_code == 403


def test_moves_need_the_matching_scope(client, make_batch, manager, labeler, make_key):
    batch = make_batch(1)
    annotate_only = Api(client, make_key(manager, ["read", "annotate"]))
    response = move(annotate_only, batch, "annotating", labelerEmail="labeler@acme.test")
    assert response.status_code == 403 and "“manage” scope" in error_of(response)["message"]
    services.assign(batch=batch, actor=manager, labeler=labeler)
    set_images(Image.objects.filter(placement__batch=batch), annotation_state=AnnotationState.EMPTY)
    manage_only = Api(client, make_key(manager, ["manage"]))
    response = move(manage_only, batch, "review")
    assert response.status_code == 403 and "“annotate” scope" in error_of(response)["message"]


def test_moving_an_unknown_batch_is_404(api, project):
    assert api.post("/acme/parcels/batches/4242/move", {"to": "review"}).status_code == 404
