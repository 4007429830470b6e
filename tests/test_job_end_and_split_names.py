"""A batch sent back to Unassigned names nobody; "the first N" fits the batch; split names stay readable."""

import pytest
from django.urls import reverse

from boards import services
from boards.models import AnnotationState, Batch, BatchEvent, BatchStatus, EventKind, Image, Job, JobState
from core.errors import InvalidInput, NotAllowed
from tests.factories import set_images

pytestmark = pytest.mark.django_db

ALL = ["owner", "manager", "reviewer", "labeler", "viewer", "outsider"]


def fresh(batch):
    return Batch.objects.get(pk=batch.pk)


def _in_dataset(make_batch, manager, labeler, reviewer, n=3, **kwargs):
    batch = make_batch(n, **kwargs)
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    set_images(batch.images, annotation_state=AnnotationState.ANNOTATED)
    services.submit(batch=fresh(batch), actor=labeler)
    services.approve(batch=fresh(batch), actor=reviewer)
    return fresh(batch)


# --- Dataset → Unassigned ends the finished job ------------------------------------------


def test_dataset_to_unassigned_ends_the_finished_job(make_batch, manager, labeler, reviewer):
    batch = _in_dataset(make_batch, manager, labeler, reviewer)
    assert Job.objects.get(batch=batch).state == JobState.COMPLETE
    services.move_to_unassigned(batch=batch, actor=manager, keep_annotations=True)
    # The finished job stays complete in the history (the API's jobs list reports it so),
    # but nobody works on a batch in Unassigned.
    assert Job.objects.get(batch=batch).state == JobState.COMPLETE
    assert fresh(batch).current_job is None


def test_the_card_shows_no_labeler_or_reviewer_after_dataset_to_unassigned(
    client, make_batch, manager, labeler, reviewer
):
    batch = _in_dataset(make_batch, manager, labeler, reviewer, name="Harbour crane")
    client.force_login(manager)
    board = client.get(reverse("board", args=["acme", "parcels"])).content.decode()
    assert f"Labeler: {labeler.email}" in board and f"Reviewer: {reviewer.email}" in board
    services.move_to_unassigned(batch=batch, actor=manager, keep_annotations=False)
    board = client.get(reverse("board", args=["acme", "parcels"])).content.decode()
    assert f"Labeler: {labeler.email}" not in board and f"Reviewer: {reviewer.email}" not in board


def test_a_new_assignment_after_that_is_the_current_job(make_batch, manager, labeler, reviewer, owner):
    batch = _in_dataset(make_batch, manager, labeler, reviewer)
    services.move_to_unassigned(batch=batch, actor=manager, keep_annotations=True)
    services.assign(batch=fresh(batch), actor=manager, labeler=owner)
    assert fresh(batch).current_job.labeler == owner
    assert list(Job.objects.filter(batch=batch).values_list("state", flat=True)) == [
        JobState.ANNOTATING,
        JobState.COMPLETE,
    ]


# --- "the first N" larger than the batch --------------------------------------------------------


def test_a_first_n_larger_than_the_batch_is_refused_with_its_size(make_batch, manager, labeler):
    batch = make_batch(4)
    with pytest.raises(InvalidInput, match="This batch has only 4 images") as refused:
        services.assign(batch=batch, actor=manager, labeler=labeler, first=5)
    assert refused.value.status == 400
    assert fresh(batch).status == BatchStatus.UNASSIGNED
    assert Batch.objects.count() == 1 and not Job.objects.exists()
    assert not BatchEvent.objects.filter(kind__in=[EventKind.ASSIGNED, EventKind.SPLIT]).exists()


def test_a_first_n_of_the_whole_batch_or_less_is_accepted(make_batch, manager, labeler):
    whole = make_batch(3)
    assert services.assign(batch=whole, actor=manager, labeler=labeler, first=3).remainder is None
    part = make_batch(5)
    ids = sorted(part.images.values_list("pk", flat=True))
    result = services.assign(batch=part, actor=manager, labeler=labeler, first=2)
    assert sorted(result.batch.images.values_list("pk", flat=True)) == ids[:2]
    assert sorted(result.remainder.images.values_list("pk", flat=True)) == ids[2:]


@pytest.mark.parametrize("who", ALL)
def test_first_n_is_for_those_who_may_assign(who, personas, make_batch, labeler):
    batch = make_batch(4)
    if who in ("owner", "manager"):
        with pytest.raises(InvalidInput, match="only 4 images"):
            services.assign(batch=batch, actor=personas[who], labeler=labeler, first=9)
        services.assign(batch=batch, actor=personas[who], labeler=labeler, first=2)
        assert fresh(batch).images.count() == 2
    else:
        with pytest.raises(NotAllowed):
            services.assign(batch=batch, actor=personas[who], labeler=labeler, first=2)
        assert fresh(batch).status == BatchStatus.UNASSIGNED and fresh(batch).images.count() == 4


@pytest.mark.parametrize("htmx", [True, False])
def test_the_assign_dialog_refuses_a_first_n_larger_than_the_batch(htmx, client, make_batch, manager, labeler):
    batch = make_batch(4)
    client.force_login(manager)
    data = {"to": "annotating", "from": "unassigned", "labeler": labeler.pk, "selection": "first", "first": 7}
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.post(reverse("move", args=["acme", "parcels", batch.pk]), data, **headers)
    assert response.status_code == 400
    assert "This batch has only 4 images" in response.content.decode()
    assert fresh(batch).status == BatchStatus.UNASSIGNED and Batch.objects.count() == 1


def test_the_assign_dialog_splits_off_the_rest_of_a_first_n(client, make_batch, manager, labeler):
    batch = make_batch(4, name="Quay")
    client.force_login(manager)
    data = {"to": "annotating", "from": "unassigned", "labeler": labeler.pk, "selection": "first", "first": 3}
    response = client.post(reverse("move", args=["acme", "parcels", batch.pk]), data, follow=True)
    assert response.status_code == 200
    assert "The other 1 wait in Unassigned as “Quay · part 2”" in response.content.decode()
    assert fresh(batch).images.count() == 3


def test_the_api_refuses_a_job_larger_than_the_batch(api, make_batch, labeler):
    batch = make_batch(2)
    body = {"batch": str(batch.pk), "labelerEmail": labeler.email, "num_images": 10}
    response = api.post("/acme/parcels/jobs", body)
    assert response.status_code == 400
    assert "This batch has only 2 images" in response.json()["error"]["message"]
    assert fresh(batch).status == BatchStatus.UNASSIGNED and not Job.objects.exists()


# --- split names ------------------------------------------------------------------------------


def _split(batch, manager, labeler, keep=1):
    ids = sorted(batch.images.values_list("pk", flat=True))[:keep]
    return services.assign(batch=batch, actor=manager, labeler=labeler, image_ids=ids).remainder


def test_splitting_a_part_again_counts_on_never_stacking(make_batch, manager, labeler):
    batch = make_batch(4, name="Route 9")
    second = _split(batch, manager, labeler)
    assert second.name == "Route 9 · part 2"
    third = _split(second, manager, labeler)
    assert third.name == "Route 9 · part 3"
    assert _split(third, manager, labeler).name == "Route 9 · part 4"


def test_old_stacked_suffixes_give_way_to_a_part_number(make_batch, manager, labeler):
    batch = make_batch(3, name="Route 9 (rest) (rest)")
    assert _split(batch, manager, labeler).name == "Route 9 · part 2"


def test_names_of_its_own_are_kept(make_batch, manager, labeler):
    batch = make_batch(3, name="Harbour (2019)")
    assert _split(batch, manager, labeler).name == "Harbour (2019) · part 2"


def test_a_mixed_review_names_the_rejected_images_a_part(make_batch, manager, labeler, reviewer):
    batch = make_batch(3, name="Dock 7 · part 2")
    services.assign(batch=batch, actor=manager, labeler=labeler, reviewer=reviewer)
    set_images(batch.images, annotation_state=AnnotationState.ANNOTATED)
    services.submit(batch=fresh(batch), actor=labeler)
    ids = sorted(batch.images.values_list("pk", flat=True))
    result = services.review(batch=fresh(batch), actor=reviewer, approved=ids[:2], rejected=ids[2:])
    assert result.rejected.name == "Dock 7 · part 3"
    assert Job.objects.get(batch=result.rejected).name == "Dock 7 · part 3"
    assert fresh(batch).name == "Dock 7 · part 2"


@pytest.mark.parametrize(
    ("name", "taken", "expected"),
    [
        ("Dock 7 (rejected)", [], "Dock 7"),
        ("Dock 7 (rejected)", ["Dock 7"], "Dock 7 · part 2"),
        ("Dock 7 (rest) (rejected)", [], "Dock 7"),
        ("Dock 7 · part 3 (rejected)", [], "Dock 7 · part 3"),
        ("Dock 7 · part 3", [], "Dock 7 · part 3"),
    ],
)
def test_reaching_dataset_drops_stale_suffixes(name, taken, expected, project, make_batch, manager, labeler, reviewer):
    for other in taken:
        Batch.objects.create(project=project, name=other, status=BatchStatus.DATASET)
    batch = _in_dataset(make_batch, manager, labeler, reviewer, name=name)
    assert batch.name == expected
    approved = BatchEvent.objects.get(batch=batch, kind=EventKind.APPROVED)
    assert approved.batch_name == expected
    assert approved.detail.get("renamed_from") == (name if name != expected else None)


def test_submitting_straight_to_dataset_drops_stale_suffixes(project, make_batch, manager, labeler):
    project.review_mode = False
    project.save()
    batch = make_batch(2, name="Gate 3 (rejected)")
    services.assign(batch=batch, actor=manager, labeler=labeler)
    set_images(batch.images, annotation_state=AnnotationState.ANNOTATED)
    done = services.submit(batch=fresh(batch), actor=labeler)
    assert done.status == BatchStatus.DATASET and fresh(batch).name == "Gate 3"


def test_split_names_stay_unique_in_the_project(project, make_batch, manager, labeler):
    Batch.objects.create(project=project, name="Pier · part 2")
    Batch.objects.create(project=project, name="Pier · part 3")
    batch = make_batch(2, name="Pier")
    assert _split(batch, manager, labeler).name == "Pier · part 4"
    assert Batch.objects.filter(project=project).values("name").distinct().count() == Batch.objects.count()
    assert Image.objects.count() == 2


def test_a_split_whose_part_name_was_taken_meanwhile_takes_the_next(make_batch, manager, labeler, monkeypatch):
    # Two parts of one batch split at once both pick "part 3"; the project's unique name
    # refuses the second, which names itself again instead of failing.
    batch = make_batch(4, name="Quay")
    make_batch(1, name="Quay · part 3")
    real = services.split_name
    calls = []

    def stale_then_real(project, name):
        calls.append(name)
        return "Quay · part 3" if len(calls) == 1 else real(project, name)

    monkeypatch.setattr(services.common, "split_name", stale_then_real)
    result = services.assign(batch=batch, actor=manager, labeler=labeler, first=2)
    assert len(calls) == 2
    assert result.remainder.name == "Quay · part 2"
    assert Batch.objects.filter(name__startswith="Quay").count() == 3


def test_the_migration_drops_stale_suffixes_of_batches_already_in_dataset(make_batch):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("boards.migrations.0012_drop_stale_split_suffixes")
    old = make_batch(1, name="Route 9 (rest) (rest)")
    taken = make_batch(1, name="Pier (rejected)")
    make_batch(1, name="Pier")
    waiting = make_batch(1, name="Quay (rest)")
    Batch.objects.filter(pk__in=[old.pk, taken.pk]).update(status=BatchStatus.DATASET)

    migration.drop_stale_suffixes(apps, None)

    assert fresh(old).name == "Route 9"
    assert fresh(taken).name == "Pier (rejected)"  # "Pier" is another batch's name
    assert fresh(waiting).name == "Quay (rest)"  # not in Dataset: it loses the suffix when it gets there
