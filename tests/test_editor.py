"""The annotation editor: its page, its JSON save, Start labeling and submitting from it."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from boards import selectors, services
from boards.formats.box import Box
from boards.models import Annotation, AnnotationState, Batch, BatchStatus, Image, LabelClass, ReviewState
from core.errors import ConcurrentChange
from tests.factories import BatchFactory, ImageFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def car(project):
    return LabelClass.objects.create(project=project, name="car", color="#dc2626", hotkey=1)


@pytest.fixture
def person(project):
    return LabelClass.objects.create(project=project, name="person", color="#16a34a", hotkey=2)


@pytest.fixture
def assigned(make_batch, manager, labeler, car):
    batch = make_batch(3, name="Street")
    services.assign(batch=batch, actor=manager, labeler=labeler)
    return Batch.objects.get(pk=batch.pk)


def editor_url(batch, image):
    return reverse("annotate", args=[batch.project.workspace.slug, batch.project.slug, batch.pk, image.pk])


def save_url(batch, image):
    return reverse("annotate-save", args=[batch.project.workspace.slug, batch.project.slug, batch.pk, image.pk])


def post_json(client, url, payload):
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return client.post(url, body, content_type="application/json")


def first_image(batch) -> Image:
    return Image.objects.filter(placement__batch=batch).order_by("pk").first()


# --- the page -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [("labeler", 200), ("reviewer", 200), ("manager", 200), ("owner", 200), ("viewer", 403), ("outsider", 404)],
)
def test_the_editor_opens_for_the_assigned_labeler_and_reviewers_up(who, status, personas, client, assigned):
    client.force_login(personas[who])
    assert client.get(editor_url(assigned, first_image(assigned))).status_code == status


def test_another_labeler_may_not_open_the_editor(client, workspace, assigned):
    other = MembershipFactory(workspace=workspace, role=Role.LABELER, user=UserFactory()).user
    client.force_login(other)
    assert client.get(editor_url(assigned, first_image(assigned))).status_code == 403


def test_an_image_of_another_batch_is_404(client, labeler, assigned, make_batch):
    stranger = make_batch(1).images.get()
    client.force_login(labeler)
    assert client.get(editor_url(assigned, stranger)).status_code == 404


def test_the_editor_of_a_batch_not_in_annotating_sends_to_the_batch_page(client, manager, make_batch):
    batch = make_batch(1)
    client.force_login(manager)
    response = client.get(editor_url(batch, batch.images.get()), follow=True)
    assert response.redirect_chain[-1][0] == reverse("batch", args=["acme", "parcels", batch.pk])
    assert "its boxes can be edited only while it is in Annotating" in response.content.decode()


def test_the_editor_page_carries_the_boxes_classes_and_version(client, labeler, assigned, car, person):
    image = first_image(assigned)
    services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 1, 2, 30, 20)], expected_version=0)
    client.force_login(labeler)
    response = client.get(editor_url(assigned, image))
    body = response.content.decode()
    assert 'data-version="1"' in body and 'data-state="annotated"' in body
    assert response.context["boxes"] == [{"label": car.pk, "x": 1.0, "y": 2.0, "width": 30.0, "height": 20.0}]
    assert [label["name"] for label in response.context["labels"]] == ["car", "person"]
    assert response.context["position"] == 1 and response.context["next_id"] and not response.context["previous_id"]
    assert 'src="/static/js/editor.js"' in body and "<script>" not in body


def test_pre_labels_open_as_editable_boxes(client, manager, labeler, car, make_batch):
    batch = make_batch(1)
    image = batch.images.get()
    services.save_annotations(image=image, actor=manager, boxes=[Box("car", 5, 5, 10, 10)])
    services.assign(batch=batch, actor=manager, labeler=labeler)
    batch = services.move_to_unassigned(batch=Batch.objects.get(pk=batch.pk), actor=manager, keep_annotations=True)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    assert Image.objects.get(pk=image.pk).annotation_state == AnnotationState.UNANNOTATED
    client.force_login(labeler)
    response = client.get(editor_url(batch, image))
    assert response.context["boxes"] == [{"label": car.pk, "x": 5.0, "y": 5.0, "width": 10.0, "height": 10.0}]
    assert 'data-state="unannotated"' in response.content.decode()


def test_the_editor_says_when_the_project_has_no_classes(client, manager, labeler, make_batch):
    batch = make_batch(1)
    services.assign(batch=batch, actor=manager, labeler=labeler)
    client.force_login(labeler)
    assert "Ask a manager to add them." in client.get(editor_url(batch, batch.images.get())).content.decode()
    client.force_login(manager)
    body = client.get(editor_url(batch, batch.images.get())).content.decode()
    assert reverse("project-settings", args=["acme", "parcels"]) in body


def test_the_editor_needs_a_constant_number_of_queries(
    client, labeler, assigned, car, project, django_assert_max_num_queries
):
    client.force_login(labeler)
    image = first_image(assigned)
    with CaptureQueriesContext(connection) as small:
        assert client.get(editor_url(assigned, image)).status_code == 200
    for _ in range(30):
        ImageFactory(project=project, batch=assigned)
    services.mark_changed(assigned)  # as a service adding images would
    services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 1, 1, 5, 5)] * 40)
    LabelClass.objects.bulk_create(LabelClass(project=project, name=f"class {n}") for n in range(10))
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(editor_url(assigned, image)).status_code == 200


def test_the_batch_link_opens_the_first_image_still_to_label(client, labeler, assigned):
    first, second, _third = Image.objects.filter(placement__batch=assigned).order_by("pk")
    services.save_annotations(image=first, actor=labeler, boxes=[], empty=True)
    client.force_login(labeler)
    response = client.get(reverse("annotate-batch", args=["acme", "parcels", assigned.pk]))
    assert response["Location"] == editor_url(assigned, second)


def test_the_batch_page_links_to_the_editor_only_for_those_who_may_edit(client, labeler, viewer, assigned):
    link = reverse("annotate-batch", args=["acme", "parcels", assigned.pk])
    client.force_login(labeler)
    assert link in client.get(reverse("batch", args=["acme", "parcels", assigned.pk])).content.decode()
    client.force_login(viewer)
    assert link not in client.get(reverse("batch", args=["acme", "parcels", assigned.pk])).content.decode()


# --- saving ---------------------------------------------------------------------------


def test_a_save_replaces_the_boxes_and_returns_the_new_version(client, labeler, assigned, car, person):
    image = first_image(assigned)
    client.force_login(labeler)
    response = post_json(
        client,
        save_url(assigned, image),
        {
            "version": 0,
            "empty": False,
            "boxes": [
                {"label": car.pk, "x": 1, "y": 2, "width": 10, "height": 20},
                {"label": person.pk, "x": 50, "y": 30, "width": 40, "height": 40},  # clipped to 64×48
            ],
        },
    )
    assert response.status_code == 200
    data = response.json()
    assert data["version"] == 1 and data["state"] == "annotated"
    assert data["progress"] == {"done": 1, "total": 3, "rework": 0} and data["all_done"] is False
    assert data["boxes"][1] == {"label": person.pk, "x": 50.0, "y": 30.0, "width": 14.0, "height": 18.0}
    assert list(Annotation.objects.filter(image=image).values_list("label__name", "x", "y", "width", "height")) == [
        ("car", 1, 2, 10, 20),
        ("person", 50, 30, 14, 18),
    ]
    assert Image.objects.get(pk=image.pk).annotated_by == labeler


def _reads_of(queries, table: str) -> int:
    """The statements that read ``table`` itself (not in a subquery of another's)."""
    return sum(1 for q in queries if q["sql"].startswith(f'SELECT "{table}".'))


def test_an_autosave_reads_the_boxes_once_and_the_classes_only_when_it_has_boxes(client, labeler, assigned, car):
    """The editor autosaves at every change: its answer's boxes are the ones just written, an image
    marked empty needs no class, and boxes are deleted only when the image had some."""
    image = first_image(assigned)
    client.force_login(labeler)
    url = save_url(assigned, image)
    with CaptureQueriesContext(connection) as empty:
        data = post_json(client, url, {"version": 0, "boxes": [], "empty": True}).json()
    assert data["state"] == "empty" and data["boxes"] == []
    assert _reads_of(empty.captured_queries, "boards_annotation") == 1  # the boxes before, to compare
    assert _reads_of(empty.captured_queries, "boards_labelclass") == 0
    assert not [q for q in empty.captured_queries if q["sql"].startswith("DELETE")]

    boxes = [{"label": car.pk, "x": n, "y": n, "width": 5, "height": 5} for n in (30, 10, 20)]
    with CaptureQueriesContext(connection) as drawn:
        data = post_json(client, url, {"version": 1, "boxes": boxes}).json()
    assert data["boxes"] == [{**box, "x": float(box["x"]), "y": float(box["y"])} for box in boxes]
    assert _reads_of(drawn.captured_queries, "boards_annotation") == 1
    assert _reads_of(drawn.captured_queries, "boards_labelclass") == 1

    moved = [{**boxes[0], "x": 40}]
    with CaptureQueriesContext(connection) as replaced:
        data = post_json(client, url, {"version": 2, "boxes": moved}).json()
    assert data["boxes"] == [{"label": car.pk, "x": 40.0, "y": 30.0, "width": 5.0, "height": 5.0}]
    assert list(Annotation.objects.filter(image=image).values_list("x", flat=True)) == [40.0]
    # Compared, then read again to be deleted (a review mark loses the box it named): not a third time.
    assert _reads_of(replaced.captured_queries, "boards_annotation") == 2
    assert post_json(client, url, {"version": 3, "boxes": []}).json()["boxes"] == []
    assert not Annotation.objects.filter(image=image).exists()


def test_an_autosave_reads_its_batch_once_and_answers_the_counts_it_stored(client, labeler, assigned, car):
    """The image comes with its batch in one read; the batch's row is then read once more, locked, and
    the progress in the answer is the counts stored on it then, not read a third time."""
    client.force_login(labeler)
    images = list(Image.objects.filter(placement__batch=assigned).order_by("pk"))
    box = {"label": car.pk, "x": 1, "y": 1, "width": 5, "height": 5}
    for n, (image, payload) in enumerate(
        [
            (images[0], {"version": 0, "boxes": [box]}),
            (images[1], {"version": 0, "boxes": [], "empty": True}),
            (images[0], {"version": 1, "boxes": []}),  # back to unannotated
        ]
    ):
        with CaptureQueriesContext(connection) as save:
            data = post_json(client, save_url(assigned, image), payload).json()
        assert data["progress"] == _progress_of_images(assigned), n
        assert _reads_of(save.captured_queries, "boards_batch") == 1  # the lock
        locks = [q["sql"] for q in save.captured_queries if q["sql"].startswith('SELECT "boards_batch".')]
        assert connection.vendor != "postgresql" or locks[0].endswith('FOR UPDATE OF "boards_batch"')
        updates = [q["sql"] for q in save.captured_queries if q["sql"].startswith('UPDATE "boards_batch"')]
        assert len(updates) == 1 and "CASE" not in updates[0]  # one batch: a plain UPDATE
        assert not [q for q in save.captured_queries if "COUNT(" in q["sql"].upper()]  # nothing reviewed to count
    assert data["progress"] == {"done": 1, "total": 3, "rework": 0}


def test_an_autosave_of_a_sent_back_image_answers_the_rework_left(client, assigned, labeler, reviewer, car):
    """Two images rejected, one fixed: the answer's progress counts the one still awaiting rework."""
    images = list(Image.objects.filter(placement__batch=assigned).order_by("pk"))
    for image in images:
        services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 1, 1, 9, 9)])
    services.submit(batch=Batch.objects.get(pk=assigned.pk), actor=labeler)
    for image, decision in zip(images, ["reject", "reject", "approve"], strict=True):
        services.record_decision(image=image, actor=reviewer, decision=decision, comment="Box the whole car.")
    back = services.review(batch=Batch.objects.get(pk=assigned.pk), actor=reviewer).rejected
    client.force_login(labeler)
    box = {"label": car.pk, "x": 2, "y": 2, "width": 9, "height": 9}
    data = post_json(client, save_url(back, images[0]), {"version": 1, "boxes": [box]}).json()
    assert data["progress"] == {"done": 2, "total": 2, "rework": 1} == _progress_of_images(back)
    assert data["all_done"] is False
    data = post_json(client, save_url(back, images[1]), {"version": 1, "boxes": [box]}).json()
    assert data["progress"] == {"done": 2, "total": 2, "rework": 0} == _progress_of_images(back)
    assert data["all_done"] is True


def test_a_save_of_an_image_read_before_it_moved_to_another_batch_is_refused(make_batch, manager, labeler, car):
    """The image, read with its batch (as the autosave reads it), moves to another batch before the
    save: the save locks the batch it was read in, finds the image gone from it, changes nothing."""
    batch = make_batch(3, name="Street")
    staying, moving = Image.objects.filter(placement__batch=batch).order_by("pk")[:2]
    read = selectors.batch_image(batch.project, batch.pk, moving.pk)
    services.assign(batch=batch, actor=manager, labeler=labeler, image_ids=[staying.pk])
    assert Image.objects.get(pk=moving.pk).batch_id != batch.pk  # split off into a new Unassigned batch
    with pytest.raises(ConcurrentChange, match="moved to another batch"):
        services.save_annotations(image=read, actor=manager, boxes=[Box("car", 1, 1, 5, 5)])
    assert not Annotation.objects.filter(image=moving).exists()
    assert Image.objects.get(pk=moving.pk).annotation_version == 0


def test_a_save_of_an_image_whose_batch_was_deleted_since_it_was_read_is_refused(make_batch, manager, car):
    """Deleting a batch (the admin can, in any column) frees its images: a save of one read in that
    batch is refused, not made on the free image."""
    batch = make_batch(2, name="Street")
    image = first_image(batch)
    read = selectors.batch_image(batch.project, batch.pk, image.pk)
    Batch.objects.filter(pk=batch.pk).delete()
    assert Image.objects.get(pk=image.pk).batch_id is None  # free now
    with pytest.raises(ConcurrentChange):
        services.save_annotations(image=read, actor=manager, boxes=[Box("car", 1, 1, 5, 5)])
    assert not Annotation.objects.filter(image=image).exists()


def test_an_image_read_free_that_joined_a_batch_since_is_saved_in_that_batch(manager, project, car):
    """An image read free (an import reads its images once) may have joined a batch since: the save
    finds it there, locks that batch and saves, as before."""
    free = ImageFactory(project=project)
    read = Image.objects.select_related("placement__batch").get(pk=free.pk)
    assert read.batch_as_read and read.batch_id is None
    made = services.create_batch_from_images(project=project, actor=manager, name="Later", image_ids=[free.pk])
    joined = Image.objects.get(pk=free.pk).batch_id
    assert joined == made.batch.pk
    saved = services.save_annotations(image=read, actor=manager, boxes=[Box("car", 1, 1, 5, 5)])
    assert saved.batch_id == joined and Annotation.objects.filter(image=free).count() == 1


def test_the_image_of_a_batch_is_read_only_through_its_own_project_and_batch(
    make_batch, project, django_assert_num_queries
):
    batch, other = make_batch(2, name="Street"), make_batch(1, name="Other")
    image = first_image(batch)
    with django_assert_num_queries(1):
        found = selectors.batch_image(project, batch.pk, image.pk)
        assert found.batch == batch and found.batch.project == project == found.project
    elsewhere = ProjectFactory(workspace=project.workspace)
    for args in [(project, other.pk, image.pk), (elsewhere, batch.pk, image.pk), (project, batch.pk, 0)]:
        with pytest.raises(Http404):
            selectors.batch_image(*args)


def test_mark_changed_keeps_the_batches_it_is_given_in_step_with_their_rows(assigned, make_batch, labeler):
    other = make_batch(2, name="Other")
    services.save_annotations(image=first_image(assigned), actor=labeler, boxes=[], empty=True)
    for given in ([assigned], [assigned, other]):  # one batch (a plain UPDATE), and several
        services.mark_changed(*given)
        for batch in given:
            row = Batch.objects.get(pk=batch.pk)
            assert batch.counts_stored and row.counts_stored
            assert (batch.updated_at, batch.n_images, batch.n_annotated) == (
                row.updated_at,
                row.n_images,
                row.n_annotated,
            )
    assert (assigned.n_images, assigned.n_annotated, other.n_images) == (3, 1, 2)


def test_a_save_from_an_older_version_is_409_and_changes_nothing(client, labeler, assigned, car):
    image = first_image(assigned)
    client.force_login(labeler)
    box = {"label": car.pk, "x": 1, "y": 1, "width": 5, "height": 5}
    assert post_json(client, save_url(assigned, image), {"version": 0, "boxes": [box]}).status_code == 200
    stale = post_json(client, save_url(assigned, image), {"version": 0, "boxes": []})
    assert stale.status_code == 409
    assert stale.json()["error"]["type"] == "stale"
    assert "saved elsewhere meanwhile" in stale.json()["error"]["message"]
    assert Annotation.objects.filter(image=image).count() == 1
    assert Image.objects.get(pk=image.pk).annotation_version == 1


def test_marking_empty_and_unmarking(client, labeler, assigned):
    image = first_image(assigned)
    client.force_login(labeler)
    data = post_json(client, save_url(assigned, image), {"version": 0, "boxes": [], "empty": True}).json()
    assert data["state"] == "empty" and data["progress"]["done"] == 1
    data = post_json(client, save_url(assigned, image), {"version": 1, "boxes": [], "empty": False}).json()
    assert data["state"] == "unannotated" and data["progress"]["done"] == 0
    assert Image.objects.get(pk=image.pk).annotated_by is None


def test_the_last_image_done_offers_the_submit(client, labeler, assigned):
    client.force_login(labeler)
    answers = [
        post_json(client, save_url(assigned, image), {"version": 0, "boxes": [], "empty": True}).json()
        for image in Image.objects.filter(placement__batch=assigned).order_by("pk")
    ]
    assert [a["all_done"] for a in answers] == [False, False, True]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "must be JSON"),
        ("", "Send a JSON object"),
        ("[]", "Send a JSON object"),
        ({"boxes": []}, "version is required"),
        ({"version": "1", "boxes": []}, "version is required"),
        ({"version": True, "boxes": []}, "version is required"),
        ({"version": 0, "boxes": {}}, "boxes must be a list"),
        ({"version": 0, "boxes": [], "empty": "yes"}, "empty is true or false"),
        ({"version": 0, "boxes": [{"label": 1, "x": 1}]}, "Box 1: needs label, x, y, width and height"),
        ({"version": 0, "boxes": [[1, 2, 3, 4]]}, "Box 1: needs label"),
        ({"version": 0, "boxes": [{"label": None, "x": 1, "y": 1, "width": 1, "height": 1}]}, "label is a class id"),
        ({"version": 0, "boxes": [{"label": True, "x": 1, "y": 1, "width": 1, "height": 1}]}, "label is a class id"),
        ({"version": 0, "boxes": [{"label": "car", "x": "1", "y": 1, "width": 1, "height": 1}]}, "must be numbers"),
        ({"version": 0, "boxes": [{"label": "car", "x": False, "y": 1, "width": 1, "height": 1}]}, "must be numbers"),
        ('{"version": 0, "boxes": [{"label": "car", "x": NaN, "y": 1, "width": 1, "height": 1}]}', "NaN is not"),
        ('{"version": 0, "boxes": [{"label": "car", "x": 1, "y": 1, "width": Infinity, "height": 1}]}', "Infinity"),
        ({"version": 0, "boxes": [{"label": 99999, "x": 1, "y": 1, "width": 1, "height": 1}]}, "no class “99999”"),
        ({"version": 0, "boxes": [{"label": "car", "x": 1, "y": 1, "width": 0, "height": 1}]}, "greater than zero"),
        ({"version": 0, "boxes": [{"label": "car", "x": 99, "y": 99, "width": 5, "height": 5}]}, "wholly outside"),
        ({"version": 0, "boxes": [{"label": "car", "x": 1, "y": 1, "width": 1, "height": 1}], "empty": True}, "also"),
    ],
)
def test_a_bad_save_is_400_with_a_message_and_changes_nothing(body, message, client, labeler, assigned, car):
    image = first_image(assigned)
    client.force_login(labeler)
    response = post_json(client, save_url(assigned, image), body)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert Image.objects.get(pk=image.pk).annotation_version == 0


def test_too_many_boxes_are_refused(client, labeler, assigned, car):
    box = {"label": car.pk, "x": 1, "y": 1, "width": 1, "height": 1}
    client.force_login(labeler)
    response = post_json(client, save_url(assigned, first_image(assigned)), {"version": 0, "boxes": [box] * 5001})
    assert response.status_code == 400 and "at most 5,000 boxes" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("who", "status"),
    [("labeler", 200), ("reviewer", 200), ("manager", 200), ("owner", 200), ("viewer", 403), ("outsider", 404)],
)
def test_who_may_save(who, status, personas, client, assigned):
    client.force_login(personas[who])
    response = post_json(client, save_url(assigned, first_image(assigned)), {"version": 0, "boxes": [], "empty": True})
    assert response.status_code == status
    if status != 200:
        assert response.json()["error"]["message"]
        assert Image.objects.get(pk=first_image(assigned).pk).annotation_version == 0


def test_another_labeler_may_not_save(client, workspace, assigned):
    other = MembershipFactory(workspace=workspace, role=Role.LABELER, user=UserFactory()).user
    client.force_login(other)
    response = post_json(client, save_url(assigned, first_image(assigned)), {"version": 0, "boxes": []})
    assert response.status_code == 403
    assert response.json()["error"] == {"message": "This batch is assigned to someone else.", "type": "forbidden"}


def test_saving_an_image_of_another_workspace_is_404(client, outsider, labeler):
    other_project = ProjectFactory(workspace=outsider.memberships.get().workspace, slug="secret")
    batch = BatchFactory(project=other_project)
    image = ImageFactory(project=other_project, batch=batch)
    client.force_login(labeler)
    response = post_json(client, save_url(batch, image), {"version": 0, "boxes": [], "empty": True})
    assert response.status_code == 404 and response.json()["error"]["type"] == "not_found"
    # Nor through this workspace's URL with the other workspace's ids.
    url = reverse("annotate-save", args=["acme", "parcels", batch.pk, image.pk])
    assert post_json(client, url, {"version": 0, "boxes": []}).status_code == 404
    assert Image.objects.get(pk=image.pk).annotation_version == 0


def test_saving_after_the_batch_left_annotating_is_409(client, labeler, assigned):
    client.force_login(labeler)
    for image in Image.objects.filter(placement__batch=assigned):
        services.save_annotations(image=image, actor=labeler, boxes=[], empty=True)
    services.submit(batch=Batch.objects.get(pk=assigned.pk), actor=labeler)
    response = post_json(client, save_url(assigned, first_image(assigned)), {"version": 1, "boxes": []})
    assert response.status_code == 409
    assert response.json()["error"]["type"] == "conflict"
    assert "only while the batch is in Annotating" in response.json()["error"]["message"]


def test_save_needs_a_post_and_a_login(client, labeler, assigned):
    url = save_url(assigned, first_image(assigned))
    assert client.get(url).status_code == 302
    client.force_login(labeler)
    assert client.get(url).status_code == 405


def test_save_checks_the_csrf_token(labeler, assigned):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(labeler)
    response = post_json(strict, save_url(assigned, first_image(assigned)), {"version": 0, "boxes": []})
    assert response.status_code == 403


# --- a rejected image -------------------------------------------------------------------


@pytest.fixture
def sent_back(assigned, labeler, reviewer, car):
    """The batch's first image rejected with a comment, the others approved: the rejected one is back."""
    images = list(Image.objects.filter(placement__batch=assigned).order_by("pk"))
    for image in images:
        services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 1, 1, 9, 9)])
    services.submit(batch=Batch.objects.get(pk=assigned.pk), actor=labeler)
    services.record_decision(image=images[0], actor=reviewer, decision="reject", comment="Box the whole car.")
    for image in images[1:]:
        services.record_decision(image=image, actor=reviewer, decision="approve")
    back = services.review(batch=Batch.objects.get(pk=assigned.pk), actor=reviewer).rejected
    return back, images[0]


def _counted_progress(batch) -> dict:
    """The progress with the batch's stored counts made stale: counted from its images."""
    Batch.objects.filter(pk=batch.pk).update(counted_at=None)
    return selectors.batch_progress(batch)


def _progress_of_images(batch) -> dict:
    """The progress as the batch's images are (nothing stored changed)."""
    images = Image.objects.filter(placement__batch=batch)
    return {
        "done": images.exclude(annotation_state=AnnotationState.UNANNOTATED).count(),
        "total": images.count(),
        "rework": images.filter(review_state=ReviewState.REJECTED).count(),
    }


def test_the_progress_is_read_from_the_stored_counts_and_agrees_with_counting(
    labeler, assigned, car, django_assert_num_queries
):
    images = list(Image.objects.filter(placement__batch=assigned).order_by("pk"))
    services.save_annotations(image=images[0], actor=labeler, boxes=[Box("car", 1, 1, 5, 5)])
    services.save_annotations(image=images[1], actor=labeler, boxes=[], empty=True)
    with django_assert_num_queries(1):  # the batch's row; nothing reviewed, nothing to rework
        stored = selectors.batch_progress(assigned)
    assert stored == {"done": 2, "total": 3, "rework": 0} == _counted_progress(assigned)
    with django_assert_num_queries(2):  # stale: the batch's row, then its images counted in one query
        assert selectors.batch_progress(assigned) == stored


def test_the_progress_counts_the_rework_once_some_images_were_reviewed(
    labeler, sent_back, car, django_assert_num_queries
):
    batch, image = sent_back
    with django_assert_num_queries(2) as read:  # the batch's row, and its rejected images counted
        stored = selectors.batch_progress(batch)
    assert not [q for q in read.captured_queries if '"total"' in q["sql"]]  # not the images' aggregate
    assert stored == {"done": 1, "total": 1, "rework": 1} == _counted_progress(batch)
    services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 2, 2, 9, 9)])
    assert selectors.batch_progress(batch) == {"done": 1, "total": 1, "rework": 0} == _counted_progress(batch)


def test_a_rejected_image_shows_the_comment_and_its_boxes(client, labeler, sent_back, car):
    batch, image = sent_back
    client.force_login(labeler)
    response = client.get(editor_url(batch, image))
    body = response.content.decode()
    assert "Rejected in review" in body and "Box the whole car." in body
    assert response.context["boxes"] == [{"label": car.pk, "x": 1.0, "y": 1.0, "width": 9.0, "height": 9.0}]


def test_fixing_a_rejected_image_keeps_the_comment_until_the_next_review(client, labeler, sent_back, car):
    batch, image = sent_back
    client.force_login(labeler)
    box = {"label": car.pk, "x": 0, "y": 0, "width": 20, "height": 20}
    assert post_json(client, save_url(batch, image), {"version": 1, "boxes": [box]}).status_code == 200
    fixed = Image.objects.get(pk=image.pk)
    assert fixed.review_state == ReviewState.PENDING and fixed.review_comment == "Box the whole car."
    assert fixed.rejections == 1
    assert "Sent back in review, fixed since" in client.get(editor_url(batch, image)).content.decode()


# --- Start labeling --------------------------------------------------------------------------


def test_start_labeling_goes_by_priority_then_the_oldest_batch(client, manager, labeler, project, car):
    def batch(name, priority, uploaded_at):
        b = BatchFactory(project=project, name=name, priority=priority, uploaded_at=uploaded_at)
        for _ in range(2):
            ImageFactory(project=project, batch=b)
        services.assign(batch=b, actor=manager, labeler=labeler)
        return Batch.objects.get(pk=b.pk)

    day = datetime(2026, 1, 1, tzinfo=UTC)
    low_old = batch("low old", 4, day)
    high_new = batch("high new", 1, day + timedelta(days=3))
    high_old = batch("high old", 1, day + timedelta(days=1))
    client.force_login(labeler)
    order = []
    for _ in range(6):
        response = client.get(reverse("start-labeling"))
        image = Image.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
        order.append(image.batch.name)
        services.save_annotations(image=image, actor=labeler, boxes=[], empty=True)
    assert order == ["high old", "high old", "high new", "high new", "low old", "low old"]
    assert {b.pk for b in (low_old, high_new, high_old)} == set(
        Image.objects.filter(annotation_state=AnnotationState.EMPTY).values_list("placement__batch", flat=True)
    )
    response = client.get(reverse("start-labeling"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("my-work")
    assert "Nothing to label: every image of the batches assigned to you is done." in response.content.decode()


def test_start_labeling_skips_batches_of_others_and_batches_not_in_annotating(
    client, manager, labeler, reviewer, project, make_batch
):
    theirs = make_batch(1, priority=1)
    services.assign(batch=theirs, actor=manager, labeler=reviewer)
    waiting = make_batch(1, priority=1)  # still in Unassigned
    mine = make_batch(1, priority=5)
    services.assign(batch=mine, actor=manager, labeler=labeler)
    client.force_login(labeler)
    response = client.get(reverse("start-labeling"))
    assert response["Location"] == editor_url(mine, mine.images.get())
    assert waiting.status == BatchStatus.UNASSIGNED


def test_start_labeling_brings_back_rejected_images_until_fixed(client, labeler, sent_back, car):
    batch, image = sent_back
    client.force_login(labeler)
    assert client.get(reverse("start-labeling"))["Location"] == editor_url(batch, image)
    services.save_annotations(image=image, actor=labeler, boxes=[Box("car", 0, 0, 30, 30)])
    assert client.get(reverse("start-labeling"))["Location"] == reverse("my-work")


def test_start_labeling_on_a_board_stays_in_its_project(client, manager, labeler, project, workspace, make_batch):
    other = ProjectFactory(workspace=workspace, slug="other")
    elsewhere = BatchFactory(project=other, priority=1)
    ImageFactory(project=other, batch=elsewhere)
    services.assign(batch=elsewhere, actor=manager, labeler=labeler)
    here = make_batch(1, priority=5)
    services.assign(batch=here, actor=manager, labeler=labeler)
    client.force_login(labeler)
    url = reverse("project-start-labeling", args=["acme", "parcels"])
    assert client.get(url)["Location"] == editor_url(here, here.images.get())
    services.save_annotations(image=here.images.get(), actor=labeler, boxes=[], empty=True)
    response = client.get(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("board", args=["acme", "parcels"])
    assert "Nothing to label in Parcels" in response.content.decode()


def test_start_labeling_is_on_my_work_and_the_board(client, labeler, viewer, project):
    client.force_login(labeler)
    assert reverse("start-labeling") in client.get(reverse("my-work")).content.decode()
    board = client.get(reverse("board", args=["acme", "parcels"])).content.decode()
    assert reverse("project-start-labeling", args=["acme", "parcels"]) in board
    client.force_login(viewer)
    board = client.get(reverse("board", args=["acme", "parcels"])).content.decode()
    assert reverse("project-start-labeling", args=["acme", "parcels"]) not in board


def test_start_labeling_of_another_workspaces_project_is_404(client, outsider, project):
    client.force_login(outsider)
    assert client.get(reverse("project-start-labeling", args=["acme", "parcels"])).status_code == 404


# --- submitting from the editor ---------------------------------------------------------------


def test_the_submit_button_shows_once_every_image_is_done(client, labeler, assigned):
    images = list(Image.objects.filter(placement__batch=assigned).order_by("pk"))
    client.force_login(labeler)
    body = client.get(editor_url(assigned, images[0])).content.decode()
    assert 'id="submit-form" class="submit-form" hidden' in body
    for image in images:
        services.save_annotations(image=image, actor=labeler, boxes=[], empty=True)
    body = client.get(editor_url(assigned, images[0])).content.decode()
    assert 'id="submit-form" class="submit-form">' in body
    assert "Submit batch for review" in body and 'name="to" value="review"' in body


def test_submitting_from_the_editor_moves_the_card_to_review(client, labeler, assigned):
    for image in Image.objects.filter(placement__batch=assigned):
        services.save_annotations(image=image, actor=labeler, boxes=[], empty=True)
    client.force_login(labeler)
    response = client.post(reverse("move", args=["acme", "parcels", assigned.pk]), {"to": "review"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("board", args=["acme", "parcels"])
    assert "Moved “Street” to Review." in response.content.decode()
    assert Batch.objects.get(pk=assigned.pk).status == BatchStatus.REVIEW


def test_without_review_the_editor_submits_to_dataset(client, manager, labeler, project, assigned):
    services.set_review_mode(project=project, actor=manager, review_mode=False)
    for image in Image.objects.filter(placement__batch=assigned):
        services.save_annotations(image=image, actor=labeler, boxes=[], empty=True)
    client.force_login(labeler)
    body = client.get(editor_url(assigned, first_image(assigned))).content.decode()
    assert "Submit batch to Dataset" in body and 'name="to" value="dataset"' in body
    client.post(reverse("move", args=["acme", "parcels", assigned.pk]), {"to": "dataset"})
    assert Batch.objects.get(pk=assigned.pk).status == BatchStatus.DATASET


def test_a_submit_with_images_left_is_refused(client, labeler, assigned):
    client.force_login(labeler)
    response = client.post(reverse("move", args=["acme", "parcels", assigned.pk]), {"to": "review"})
    assert response.status_code == 409
    assert "3 images are not annotated yet" in response.content.decode()
    assert Batch.objects.get(pk=assigned.pk).status == BatchStatus.ANNOTATING
