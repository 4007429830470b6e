"""The label queue: batches assigned to no one labeler, served image by image by "Start labeling"."""

import importlib
import json
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from boards import selectors, services
from boards.models import (
    AnnotationState,
    Batch,
    BatchStatus,
    Image,
    Job,
    LabelClass,
    QueueEntry,
)
from core.errors import InvalidInput, NotAllowed
from tests.board_html import parse_board
from tests.factories import MembershipFactory, UserFactory, set_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def car(project):
    return LabelClass.objects.create(project=project, name="car")


@pytest.fixture
def second_labeler(workspace):
    return MembershipFactory(workspace=workspace, role=Role.LABELER, user=UserFactory(email="second@acme.test")).user


def queued(make_batch, manager, n=4, **kwargs) -> Batch:
    batch = make_batch(n, **kwargs)
    services.assign(batch=batch, actor=manager, labeler=None, queue=True)
    batch.refresh_from_db()
    return batch


def label(image: Image, actor, car) -> Image:
    return services.save_annotations(
        image=Image.objects.get(pk=image.pk), actor=actor, boxes=[services.Box(car.pk, 1, 1, 10, 10)]
    )


def done(image: Image, actor, car) -> Image:
    """Label the image and move on from it ("Next image"), as a labeler finishes one."""
    label(image, actor, car)
    services.finish_queued(image_id=image.pk, actor=actor)
    return Image.objects.get(pk=image.pk)


def serve(user, project, **kwargs) -> Image | None:
    return services.next_image(project=project, user=user, **kwargs)


def age(image_ids, minutes):
    QueueEntry.objects.filter(image_id__in=image_ids).update(reserved_at=timezone.now() - timedelta(minutes=minutes))


# --- assigning to the queue ---------------------------------------------------------


def test_a_batch_assigned_to_the_queue_has_a_job_without_labeler_and_an_entry_per_image(make_batch, manager):
    batch = queued(make_batch, manager, n=3)
    assert batch.status == BatchStatus.ANNOTATING
    job = batch.current_job
    assert job.labeler is None and job.is_queue
    entries = QueueEntry.objects.filter(batch=batch)
    assert sorted(entries.values_list("image_id", flat=True)) == sorted(batch.images.values_list("pk", flat=True))
    assert not entries.filter(reserved_by__isnull=False).exists()
    assert set(entries.values_list("priority", flat=True)) == {batch.priority}


def test_assigning_a_selection_to_the_queue_queues_only_the_selection(make_batch, manager):
    batch = make_batch(5)
    chosen = list(batch.images.order_by("pk").values_list("pk", flat=True)[:2])
    result = services.assign(batch=batch, actor=manager, labeler=None, queue=True, image_ids=chosen)
    assert sorted(QueueEntry.objects.values_list("image_id", flat=True)) == chosen
    assert result.remainder.images.count() == 3
    assert not QueueEntry.objects.filter(batch=result.remainder).exists()


@pytest.mark.parametrize("review_mode, goes_to", [(True, BatchStatus.REVIEW), (False, BatchStatus.DATASET)])
def test_a_batch_whose_images_are_all_labeled_goes_on_when_assigned_to_the_queue(
    review_mode, goes_to, make_batch, manager, project
):
    """Nobody would be served an image of it, nor finish its last one: it goes on at once."""
    project.review_mode = review_mode
    project.save(update_fields=["review_mode"])
    batch = make_batch(3)
    set_images(batch.images.all(), annotation_state=AnnotationState.ANNOTATED)
    set_images(batch.images.filter(pk=batch.images.order_by("pk")[0].pk), annotation_state=AnnotationState.EMPTY)

    result = services.assign(batch=batch, actor=manager, labeler=None, queue=True)

    assert result.batch.status == goes_to == Batch.objects.get(pk=batch.pk).status
    assert not QueueEntry.objects.exists()
    kinds = list(batch.events.order_by("pk").values_list("kind", flat=True))
    assert kinds[-2:] == ["assigned", "submitted"]
    assert result.job.state != "annotating"


def test_a_queue_batch_with_one_image_left_to_label_stays_in_annotating(make_batch, manager):
    batch = make_batch(3)
    set_images(batch.images.exclude(pk=batch.images.order_by("pk")[0].pk), annotation_state=AnnotationState.ANNOTATED)
    result = services.assign(batch=batch, actor=manager, labeler=None, queue=True)
    assert result.batch.status == BatchStatus.ANNOTATING
    assert QueueEntry.objects.filter(batch=batch).count() == 1


def test_the_board_says_a_labeled_batch_went_on_from_the_queue(client, make_batch, manager):
    batch = make_batch(2, name="Prelabeled")
    set_images(batch.images.all(), annotation_state=AnnotationState.ANNOTATED)
    client.force_login(manager)
    url = reverse("move", args=[batch.project.workspace.slug, batch.project.slug, batch.pk])
    response = client.post(url, {"to": "annotating", "labeler": "queue", "selection": "all"}, follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Every image of “Prelabeled” was labeled already: it went on to Review." in text
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.REVIEW


def test_the_board_names_the_rest_when_the_labeled_part_of_a_batch_went_on(client, make_batch, manager):
    batch = make_batch(3, name="Half done")
    first_two = list(batch.images.order_by("pk").values_list("pk", flat=True)[:2])
    set_images(batch.images.filter(pk__in=first_two), annotation_state=AnnotationState.ANNOTATED)
    client.force_login(manager)
    url = reverse("move", args=[batch.project.workspace.slug, batch.project.slug, batch.pk])
    data = {"to": "annotating", "labeler": "queue", "selection": "first", "first": "2"}
    text = client.post(url, data, follow=True).content.decode()
    rest = Batch.objects.get(split_from=batch)
    went = "The 2 images assigned were labeled already: it went on to Review."
    assert f"{went} The other 1 wait in Unassigned as “{rest.name}”." in text


def test_assign_needs_a_labeler_or_the_queue_not_both(make_batch, manager, labeler):
    batch = make_batch(2)
    with pytest.raises(InvalidInput):
        services.assign(batch=batch, actor=manager, labeler=labeler, queue=True)
    with pytest.raises(InvalidInput):
        services.assign(batch=batch, actor=manager, labeler=None)
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.UNASSIGNED
    assert not Job.objects.exists()


def test_the_assign_dialog_offers_the_queue_and_the_board_shows_the_queue_card(client, make_batch, manager):
    batch = make_batch(2)
    client.force_login(manager)
    url = reverse("move", args=["acme", "parcels", batch.pk])
    dialog = client.post(url, {"from": "unassigned", "to": "annotating"})
    assert b'value="queue"' in dialog.content
    response = client.post(url, {"from": "unassigned", "to": "annotating", "labeler": "queue"}, follow=True)
    assert "to the label queue" in response.content.decode()
    assert Batch.objects.get(pk=batch.pk).current_job.is_queue
    board = parse_board(client.get(reverse("board", args=["acme", "parcels"])).content)
    (card,) = [card for card in board["annotating"].cards if card.id == batch.pk]
    assert any(title.startswith("Label queue") for title in card.people)


# --- serving ------------------------------------------------------------------------


def test_labelers_are_served_by_priority_then_the_oldest_queued(make_batch, manager, labeler, project):
    low = queued(make_batch, manager, n=2, priority=4)
    high_later = queued(make_batch, manager, n=2, priority=2)
    high_later_too = queued(make_batch, manager, n=1, priority=2)
    served = [serve(labeler, project, current=None) for _ in range(3)]
    assert [image.batch_id for image in served] == [high_later.pk, high_later.pk, high_later_too.pk]
    project.reservation_cap = 10
    project.save()
    assert serve(labeler, project).batch_id == low.pk


def test_two_labelers_never_get_the_same_image(make_batch, manager, labeler, second_labeler, project):
    queued(make_batch, manager, n=4)
    mine = {serve(labeler, project).pk for _ in range(2)}
    theirs = {serve(second_labeler, project).pk for _ in range(2)}
    assert len(mine) == 2 and len(theirs) == 2 and not mine & theirs
    holders = dict(QueueEntry.objects.values_list("image_id", "reserved_by_id"))
    assert all(holders[pk] == labeler.pk for pk in mine)
    assert all(holders[pk] == second_labeler.pk for pk in theirs)


def test_at_the_cap_a_labeler_gets_back_what_they_hold_not_more(make_batch, manager, labeler, project):
    queued(make_batch, manager, n=6)
    project.reservation_cap = 2
    project.save()
    first = serve(labeler, project)
    second = serve(labeler, project, current=first.pk)
    assert first.pk != second.pk
    # At the cap: the oldest image held other than the one they are on, never a third.
    age([first.pk], 1)
    assert serve(labeler, project, current=second.pk).pk == first.pk
    assert serve(labeler, project, current=first.pk).pk == second.pk
    assert QueueEntry.objects.filter(reserved_by=labeler).count() == 2


def test_an_expired_reservation_goes_first_within_its_priority(make_batch, manager, labeler, second_labeler, project):
    batch = queued(make_batch, manager, n=3)
    left = serve(labeler, project)
    # Someone else gets the next free image while the reservation holds.
    assert serve(second_labeler, project).pk != left.pk
    age([left.pk], project.reservation_minutes + 1)
    newer = queued(make_batch, manager, n=2)  # queued later, same priority
    taken = serve(second_labeler, project)
    assert taken.pk == left.pk
    assert QueueEntry.objects.get(image_id=left.pk).reserved_by_id == second_labeler.pk
    assert taken.batch_id == batch.pk != newer.pk
    # The labeler who left it may not edit it any more.
    with pytest.raises(NotAllowed):
        label(left, labeler, LabelClass.objects.create(project=project, name="car"))


def test_an_expired_reservation_nobody_took_is_still_its_labelers(make_batch, manager, labeler, project, car):
    queued(make_batch, manager, n=2)
    image = serve(labeler, project)
    age([image.pk], project.reservation_minutes + 5)
    assert services.hold(image, labeler)
    assert label(image, labeler, car).annotation_state == AnnotationState.ANNOTATED


def hold_url(batch, image) -> str:
    return reverse("annotate-hold", args=["acme", "parcels", batch.pk, image.pk])


def test_the_editor_of_a_queue_image_renews_its_hold_every_few_minutes(client, make_batch, manager, labeler, project):
    batch = queued(make_batch, manager, n=2)
    image = serve(labeler, project)
    client.force_login(labeler)
    page = client.get(reverse("annotate", args=["acme", "parcels", batch.pk, image.pk])).content.decode()
    assert f'data-hold-url="{hold_url(batch, image)}"' in page
    assert 'data-hold-seconds="300"' in page  # a third of the 30 minutes' idle time, at most 5 minutes

    age([image.pk], project.reservation_minutes - 1)
    response = client.post(hold_url(batch, image))
    assert response.status_code == 200 and response.json() == {"held": True}
    renewed = QueueEntry.objects.get(image_id=image.pk).reserved_at
    assert timezone.now() - renewed < timedelta(seconds=30)
    # A short idle time renews more often, but not more than every 20 seconds.
    project.reservation_minutes = 1
    project.save(update_fields=["reservation_minutes"])
    page = client.get(reverse("annotate", args=["acme", "parcels", batch.pk, image.pk])).content.decode()
    assert 'data-hold-seconds="20"' in page


def test_a_hold_on_an_image_someone_else_took_is_refused_with_the_reason(
    client, make_batch, manager, labeler, second_labeler, project
):
    batch = queued(make_batch, manager, n=1)
    image = serve(labeler, project)
    age([image.pk], project.reservation_minutes + 1)
    assert serve(second_labeler, project).pk == image.pk
    client.force_login(labeler)
    response = client.post(hold_url(batch, image))
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "This image of the label queue is reserved for someone else."
    assert QueueEntry.objects.get(image_id=image.pk).reserved_by_id == second_labeler.pk


def test_a_hold_is_only_for_the_labeler_of_a_queue_image(
    client, make_batch, manager, labeler, viewer, outsider, project, car
):
    batch = queued(make_batch, manager, n=2)
    image = serve(labeler, project)
    url = hold_url(batch, image)
    client.force_login(labeler)
    assert client.get(url).status_code == 405
    free = batch.images.exclude(pk=image.pk).get()
    assert client.post(hold_url(batch, free)).status_code == 409  # handed out by Start labeling, not taken
    done(image, labeler, car)
    assert client.post(url).json() == {"held": False}  # finished: still theirs to edit, nothing to renew
    client.force_login(viewer)
    assert client.post(url).status_code == 403
    client.force_login(outsider)
    assert client.post(url).status_code == 404
    client.force_login(manager)  # edits any image, and holds none of this batch: nothing to renew
    assert client.post(url).json() == {"held": False}
    plain = make_batch(1)  # in Unassigned: handed out by nobody
    client.force_login(labeler)
    response = client.post(hold_url(plain, plain.images.get()))
    assert response.status_code == 409 and "no longer in the label queue" in response.json()["error"]["message"]


def test_a_manager_who_took_a_queue_image_keeps_it_by_working_on_it(client, make_batch, manager, project):
    batch = queued(make_batch, manager, n=2)
    image = serve(manager, project)  # "Start labeling" serves anyone who may label
    age([image.pk], project.reservation_minutes - 1)
    client.force_login(manager)
    page = client.get(reverse("annotate", args=["acme", "parcels", batch.pk, image.pk])).content.decode()
    assert f'data-hold-url="{hold_url(batch, image)}"' in page  # opening it renewed it, and the editor will
    age([image.pk], project.reservation_minutes - 1)
    assert client.post(hold_url(batch, image)).json() == {"held": True}
    assert timezone.now() - QueueEntry.objects.get(image_id=image.pk).reserved_at < timedelta(seconds=30)
    other = batch.images.exclude(pk=image.pk).get()
    assert (
        "data-hold-url"
        not in client.get(reverse("annotate", args=["acme", "parcels", batch.pk, other.pk])).content.decode()
    )


def test_a_higher_priority_expired_reservation_beats_free_images_of_lower_priority(
    make_batch, manager, labeler, second_labeler, project
):
    queued(make_batch, manager, n=2, priority=5)
    urgent = queued(make_batch, manager, n=1, priority=1)
    held = serve(labeler, project)
    assert held.batch_id == urgent.pk
    age([held.pk], project.reservation_minutes + 1)
    assert serve(second_labeler, project).pk == held.pk


def test_an_empty_queue_serves_nothing_and_viewers_nothing(make_batch, manager, viewer, labeler, project):
    assert serve(labeler, project) is None
    queued(make_batch, manager, n=2)
    assert serve(viewer, project) is None
    assert not QueueEntry.objects.filter(reserved_by__isnull=False).exists()


# --- finishing ----------------------------------------------------------------------


def test_a_done_image_leaves_the_queue_and_the_last_one_sends_the_batch_on(
    make_batch, manager, labeler, second_labeler, project, car
):
    batch = queued(make_batch, manager, n=2)
    a, b = serve(labeler, project), serve(second_labeler, project)
    label(a, labeler, car)
    assert QueueEntry.objects.get(image_id=a.pk).reserved_by_id == labeler.pk  # a first box is not "done"
    services.finish_queued(image_id=a.pk, actor=labeler)
    assert not QueueEntry.objects.filter(image_id=a.pk).exists()
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.ANNOTATING
    services.save_annotations(image=Image.objects.get(pk=b.pk), actor=second_labeler, boxes=[], empty=True)
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.ANNOTATING  # still working on it
    services.finish_queued(image_id=b.pk, actor=second_labeler)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.REVIEW
    assert batch.events.filter(kind="submitted", actor=second_labeler).exists()
    assert not QueueEntry.objects.exists()


def test_without_review_the_finished_queue_batch_goes_to_dataset(make_batch, manager, labeler, project, car):
    project.review_mode = False
    project.save()
    batch = queued(make_batch, manager, n=1)
    done(serve(labeler, project), labeler, car)
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.DATASET


def test_clearing_an_image_keeps_it_reserved(make_batch, manager, labeler, project):
    queued(make_batch, manager, n=2)
    image = serve(labeler, project)
    services.save_annotations(image=Image.objects.get(pk=image.pk), actor=labeler, boxes=[])
    assert QueueEntry.objects.get(image_id=image.pk).reserved_by_id == labeler.pk


def test_a_labeler_may_edit_only_what_the_queue_gave_them(
    make_batch, manager, labeler, second_labeler, reviewer, project, car
):
    queued(make_batch, manager, n=3)
    mine = serve(labeler, project)
    theirs = serve(second_labeler, project)
    free = QueueEntry.objects.filter(reserved_by__isnull=True).first().image
    with pytest.raises(NotAllowed, match="reserved for someone else"):
        label(theirs, labeler, car)
    with pytest.raises(NotAllowed, match="Start labeling"):
        label(free, labeler, car)
    with pytest.raises(NotAllowed, match="reserved for someone else"):
        label(mine, second_labeler, car)
    done(mine, labeler, car)
    with pytest.raises(NotAllowed, match="labeled by someone else"):
        label(mine, second_labeler, car)
    label(mine, labeler, car)  # their own finished image, while the batch is open
    label(free, reviewer, car)  # reviewers and up edit any image


def test_the_editor_refuses_images_not_reserved_for_the_labeler(
    client, make_batch, manager, labeler, second_labeler, project
):
    batch = queued(make_batch, manager, n=3)
    mine = serve(labeler, project)
    theirs = serve(second_labeler, project)
    client.force_login(labeler)
    page = client.get(reverse("annotate", args=["acme", "parcels", batch.pk, mine.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Next image" in body and 'name="current"' in body
    assert reverse("annotate", args=["acme", "parcels", batch.pk, theirs.pk]) not in body  # no strip of others
    assert client.get(reverse("annotate", args=["acme", "parcels", batch.pk, theirs.pk])).status_code == 403
    save = client.post(
        reverse("annotate-save", args=["acme", "parcels", batch.pk, theirs.pk]),
        json.dumps({"version": 0, "boxes": [], "empty": True}),
        content_type="application/json",
    )
    assert save.status_code == 403
    assert Image.objects.get(pk=theirs.pk).annotation_state == AnnotationState.UNANNOTATED
    # Opening the batch as a whole sends a queue labeler to "Start labeling".
    response = client.get(reverse("annotate-batch", args=["acme", "parcels", batch.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("board", args=["acme", "parcels"])


def test_opening_a_held_image_renews_its_reservation(client, make_batch, manager, labeler, project):
    batch = queued(make_batch, manager, n=2)
    image = serve(labeler, project)
    age([image.pk], 20)
    client.force_login(labeler)
    client.get(reverse("annotate", args=["acme", "parcels", batch.pk, image.pk]))
    renewed = QueueEntry.objects.get(image_id=image.pk).reserved_at
    assert timezone.now() - renewed < timedelta(minutes=1)


# --- the Start labeling button ------------------------------------------------------------------


def test_start_labeling_reserves_on_post_only(client, make_batch, manager, labeler, project):
    batch = queued(make_batch, manager, n=2)
    client.force_login(labeler)
    url = reverse("project-start-labeling", args=["acme", "parcels"])
    looked = client.get(url, follow=True)
    assert "2 images wait in the label queue" in looked.content.decode()
    assert not QueueEntry.objects.filter(reserved_by__isnull=False).exists()
    response = client.post(url)
    image = QueueEntry.objects.get(reserved_by=labeler).image
    assert response["Location"] == reverse("annotate", args=["acme", "parcels", batch.pk, image.pk])
    nxt = client.post(url, {"current": image.pk})
    other = QueueEntry.objects.filter(reserved_by=labeler).exclude(image=image).get().image
    assert nxt["Location"] == reverse("annotate", args=["acme", "parcels", batch.pk, other.pk])


def test_start_labeling_from_my_work_finds_the_queue_of_any_project(client, make_batch, manager, labeler):
    batch = queued(make_batch, manager, n=1)
    client.force_login(labeler)
    work = client.get(reverse("my-work")).content.decode()
    assert "Label queues" in work and "Parcels" in work
    response = client.post(reverse("start-labeling"))
    image = batch.images.get()
    assert response["Location"] == reverse("annotate", args=["acme", "parcels", batch.pk, image.pk])


def test_assigned_work_comes_first_unless_the_queue_has_higher_priority(client, make_batch, manager, labeler, project):
    mine = make_batch(1, priority=3)
    services.assign(batch=mine, actor=manager, labeler=labeler)
    queued(make_batch, manager, n=1, priority=3)
    client.force_login(labeler)
    url = reverse("project-start-labeling", args=["acme", "parcels"])
    response = client.post(url)
    assert response["Location"].endswith(f"/{mine.pk}/annotate/{mine.images.get().pk}/")
    assert not QueueEntry.objects.filter(reserved_by__isnull=False).exists()
    urgent = queued(make_batch, manager, n=1, priority=1)
    response = client.post(url)
    assert response["Location"].endswith(f"/{urgent.pk}/annotate/{urgent.images.get().pk}/")


def test_start_labeling_in_another_workspace_is_404(client, make_batch, manager, outsider):
    queued(make_batch, manager, n=1)
    client.force_login(outsider)
    assert client.post(reverse("project-start-labeling", args=["acme", "parcels"])).status_code == 404
    assert not QueueEntry.objects.filter(reserved_by__isnull=False).exists()


@pytest.mark.parametrize("current", ["x", "-1", "١", "9" * 30, ""])
def test_a_malformed_current_image_is_a_400_and_an_empty_one_is_none(client, make_batch, manager, labeler, current):
    queued(make_batch, manager, n=1)
    client.force_login(labeler)
    response = client.post(reverse("project-start-labeling", args=["acme", "parcels"]), {"current": current})
    if current:
        assert response.status_code == 400
        assert not QueueEntry.objects.filter(reserved_by__isnull=False).exists()
    else:
        assert response.status_code == 302 and "/annotate/" in response["Location"]
        assert QueueEntry.objects.filter(reserved_by=labeler).count() == 1


# --- review, moves, priority -----------------------------------------------------------


def test_rejected_images_go_back_to_the_labeler_who_labeled_each(
    make_batch, manager, labeler, second_labeler, reviewer, project, car
):
    batch = queued(make_batch, manager, n=3)
    a, b, c = serve(labeler, project), serve(second_labeler, project), serve(labeler, project)
    for image, who in ((a, labeler), (b, second_labeler), (c, labeler)):
        done(image, who, car)
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.REVIEW
    result = services.review(
        batch=Batch.objects.get(pk=batch.pk), actor=reviewer, approved=[c.pk], rejected=[a.pk, b.pk]
    )
    back = result.rejected
    assert back.pk != batch.pk and back.status == BatchStatus.ANNOTATING and back.current_job.is_queue
    entries = dict(QueueEntry.objects.values_list("image_id", "reserved_by_id"))
    assert entries == {a.pk: labeler.pk, b.pk: second_labeler.pk}
    assert QueueEntry.objects.filter(pinned=True).count() == 2
    # Pinned: they do not expire to others, and each labeler is served their own.
    age([a.pk, b.pk], 10_000)
    third = MembershipFactory(workspace=project.workspace, role=Role.LABELER).user
    assert serve(third, project) is None
    assert serve(labeler, project).pk == a.pk
    assert serve(second_labeler, project).pk == b.pk


def test_a_wholly_rejected_queue_batch_returns_to_the_queue(make_batch, manager, labeler, reviewer, project, car):
    batch = queued(make_batch, manager, n=2)
    for _ in range(2):
        done(serve(labeler, project), labeler, car)
    services.review(batch=Batch.objects.get(pk=batch.pk), actor=reviewer, all="reject", comment="tighter")
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.ANNOTATING
    assert set(QueueEntry.objects.values_list("reserved_by_id", "pinned")) == {(labeler.pk, True)}
    image = serve(labeler, project)
    services.confirm_rework(image=Image.objects.get(pk=image.pk), actor=labeler)
    services.finish_queued(image_id=image.pk, actor=labeler)
    assert not QueueEntry.objects.filter(image_id=image.pk).exists()


def test_moving_a_queue_batch_back_to_unassigned_empties_its_queue(make_batch, manager, labeler, project):
    batch = queued(make_batch, manager, n=3)
    serve(labeler, project)
    services.move_to_unassigned(batch=Batch.objects.get(pk=batch.pk), actor=manager)
    assert not QueueEntry.objects.exists()
    assert serve(labeler, project) is None


def test_a_priority_change_reorders_the_queue(make_batch, manager, labeler, project):
    first = queued(make_batch, manager, n=1, priority=3)
    later = queued(make_batch, manager, n=1, priority=3)
    services.set_priority(batch=later, actor=manager, priority=1)
    assert set(QueueEntry.objects.filter(batch=later).values_list("priority", flat=True)) == {1}
    assert serve(labeler, project).batch_id == later.pk != first.pk


def test_deleting_a_class_puts_reopened_images_back_in_the_queue(make_batch, manager, labeler, project, car):
    batch = queued(make_batch, manager, n=2)
    image = done(serve(labeler, project), labeler, car)
    assert not QueueEntry.objects.filter(image_id=image.pk).exists()
    services.delete_label_class(label=car, actor=manager)
    assert QueueEntry.objects.filter(image_id=image.pk, batch=batch).exists()


# --- the card and the settings ---------------------------------------------------------------


def test_the_card_of_a_queue_batch_names_who_is_working_on_it(
    make_batch, manager, labeler, second_labeler, project, car
):
    batch = queued(make_batch, manager, n=4)
    done(serve(labeler, project), labeler, car)
    serve(second_labeler, project)
    card = selectors.card_of(Batch.objects.get(pk=batch.pk))
    assert card.queue and card.labeler is None
    assert [person.email for person in card.workers] == ["second@acme.test"]  # the first one's image is done
    serve(labeler, project)
    assert {p.email for p in selectors.card_of(batch).workers} == {"labeler@acme.test", "second@acme.test"}
    age(QueueEntry.objects.filter(reserved_by=labeler).values_list("image_id", flat=True), 10_000)
    assert [p.email for p in selectors.card_of(batch).workers] == ["second@acme.test"]


def test_managers_set_the_reservation_time_and_cap(client, manager, labeler, project):
    url = reverse("project-settings", args=["acme", "parcels"])
    client.force_login(manager)
    page = client.get(url).content.decode()
    assert 'name="reservation_minutes"' in page and 'value="30"' in page
    response = client.post(url, {"form": "queue", "reservation_minutes": "45", "reservation_cap": "7"})
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.reservation_minutes, project.reservation_cap) == (45, 7)
    for bad in (
        {"reservation_minutes": "0", "reservation_cap": "3"},
        {"reservation_minutes": "99999", "reservation_cap": "3"},
        {"reservation_minutes": "30", "reservation_cap": "101"},
        {"reservation_minutes": "x", "reservation_cap": "3"},
    ):
        assert client.post(url, {"form": "queue", **bad}).status_code == 400
    project.refresh_from_db()
    assert (project.reservation_minutes, project.reservation_cap) == (45, 7)
    client.force_login(labeler)
    assert client.post(url, {"form": "queue", "reservation_minutes": "5", "reservation_cap": "1"}).status_code == 403


# --- what a labeler does in the editor ------------------------------------------------------


def test_a_cleared_image_stays_reserved_and_the_batch_waits_for_it(make_batch, manager, labeler, project, car):
    batch = queued(make_batch, manager, n=1)
    image = serve(labeler, project)
    label(image, labeler, car)  # draw
    services.save_annotations(image=Image.objects.get(pk=image.pk), actor=labeler, boxes=[])  # undo
    label(image, labeler, car)  # draw again: still theirs
    services.save_annotations(image=Image.objects.get(pk=image.pk), actor=labeler, boxes=[])
    services.finish_queued(image_id=image.pk, actor=labeler)  # moving on from an unfinished image keeps it
    assert QueueEntry.objects.get(image_id=image.pk).reserved_by_id == labeler.pk
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.ANNOTATING


def test_an_image_cleared_after_it_was_finished_goes_back_in_the_queue(
    make_batch, manager, labeler, second_labeler, reviewer, project, car
):
    batch = queued(make_batch, manager, n=2)
    image = done(serve(labeler, project), labeler, car)
    services.save_annotations(image=image, actor=reviewer, boxes=[])  # a reviewer clears it
    entry = QueueEntry.objects.get(image_id=image.pk)
    assert entry.reserved_by_id is None and entry.batch_id == batch.pk
    served = {serve(second_labeler, project).pk, serve(second_labeler, project).pk}
    assert image.pk in served


def test_a_save_renews_the_reservation(make_batch, manager, labeler, project, car):
    queued(make_batch, manager, n=2)
    image = serve(labeler, project)
    age([image.pk], project.reservation_minutes - 1)
    label(image, labeler, car)
    assert timezone.now() - QueueEntry.objects.get(image_id=image.pk).reserved_at < timedelta(minutes=1)


def test_next_never_serves_the_current_image_even_when_its_reservation_expired(make_batch, manager, labeler, project):
    queued(make_batch, manager, n=3)
    image = serve(labeler, project)
    age([image.pk], project.reservation_minutes + 1)
    assert serve(labeler, project, current=image.pk).pk != image.pk


def test_an_image_sent_back_to_someone_who_left_goes_to_another_labeler(
    make_batch, manager, labeler, second_labeler, reviewer, project, car
):
    batch = queued(make_batch, manager, n=1)
    done(serve(labeler, project), labeler, car)
    services.review(batch=Batch.objects.get(pk=batch.pk), actor=reviewer, all="reject", comment="again")
    assert serve(second_labeler, project) is None  # pinned to its labeler
    labeler.memberships.all().delete()
    assert serve(second_labeler, project) is not None


def test_deleting_a_user_who_holds_images_frees_them(make_batch, manager, labeler, second_labeler, project):
    queued(make_batch, manager, n=1)
    image = serve(labeler, project)
    labeler.delete()
    assert QueueEntry.objects.get(image_id=image.pk).reserved_by_id is None
    assert serve(second_labeler, project).pk == image.pk


def test_a_queue_card_in_review_shows_its_reviewer_not_the_queue(make_batch, manager, labeler, reviewer, project, car):
    batch = make_batch(1)
    services.assign(batch=batch, actor=manager, labeler=None, queue=True, reviewer=reviewer)
    done(serve(labeler, project), labeler, car)
    card = selectors.card_of(Batch.objects.get(pk=batch.pk))
    assert card.status == BatchStatus.REVIEW and not card.queue
    assert card.reviewer.email == "reviewer@acme.test"


def test_the_board_drops_a_worker_whose_reservation_expired(client, make_batch, manager, labeler, project, monkeypatch):
    # Uploaded long ago: its card's age ("10d") reads the same half an hour later.
    batch = queued(make_batch, manager, n=2)
    Batch.objects.filter(pk=batch.pk).update(uploaded_at=timezone.now() - timedelta(days=10))
    serve(labeler, project)
    client.force_login(manager)
    board = reverse("board", args=["acme", "parcels"])
    assert "Labeling now: labeler@acme.test" in client.get(board).content.decode()
    later = timezone.now() + timedelta(minutes=project.reservation_minutes + 1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    make_batch(1)  # the board changed, so it is drawn again; the queue card's own version did not
    assert "Labeling now: labeler@acme.test" not in client.get(board).content.decode()


def test_the_api_lists_a_queue_job_with_no_labeler_as_its_schema_says(api, make_batch, manager):
    from boards.api.openapi import openapi_schema

    queued(make_batch, manager, n=2)
    (job,) = api.get("/acme/parcels/jobs").json()["jobs"]
    assert job["labeler"] is None
    schemas = openapi_schema("http://testserver")["components"]["schemas"]
    labeler = next(s["properties"]["labeler"] for s in schemas.values() if "labeler" in s.get("properties", {}))
    assert labeler.get("nullable") is True


def test_start_labeling_needs_the_same_few_queries_whatever_the_queue_holds(
    client, make_batch, manager, labeler, project, car, django_assert_max_num_queries
):
    for _ in range(3):
        queued(make_batch, manager, n=5)
    client.force_login(labeler)
    url = reverse("project-start-labeling", args=["acme", "parcels"])
    client.post(url)
    first = QueueEntry.objects.get(reserved_by=labeler).image
    # Nothing done yet: one read of what they finished, and no transaction (savepoint here) for it.
    # Besides: the session, user, project, roles and assigned work, and the reservation's seven
    # statements, in one transaction (savepoint here): the queue's front taken without one of its own.
    with django_assert_max_num_queries(13) as nothing_done:
        client.post(url, {"current": first.pk})
    assert QueueEntry.objects.filter(reserved_by=labeler).count() == 2
    assert sum(q["sql"].startswith("SAVEPOINT") for q in nothing_done.captured_queries) == 1
    label(first, labeler, car)
    # One image done: its batch locked, its entry gone, the batch's others counted, then the next.
    with django_assert_max_num_queries(19) as one_done:
        client.post(url, {"current": first.pk})
    assert not QueueEntry.objects.filter(image=first).exists()
    assert QueueEntry.objects.filter(reserved_by=labeler).count() == 2  # the one they skipped, and a new one
    assert len(one_done.captured_queries) > len(nothing_done.captured_queries)


def test_a_users_roles_are_read_without_joining_the_workspaces_or_users(labeler, django_assert_num_queries):
    with django_assert_num_queries(1) as read:
        roles = labeler.workspace_roles()
    assert list(roles.values()) == [Role.LABELER]
    assert "JOIN" not in read.captured_queries[0]["sql"].upper()


def test_the_times_the_queue_writes_by_hand_are_stored_as_the_orm_stores_them(make_batch, manager, labeler, project):
    """Queueing, a reservation and its renewal are hand-written statements: the times they write are
    found again by an exact lookup (SQLite keeps them as text: the ORM's naive UTC, no offset) and
    sort with times the ORM wrote."""
    batch = queued(make_batch, manager, n=3)
    first = serve(labeler, project)
    second = serve(labeler, project, current=first.pk)
    services.hold(second, labeler)
    entries = list(QueueEntry.objects.filter(batch=batch))
    assert sum(e.reserved_at is not None for e in entries) == 2
    for e in entries:
        assert QueueEntry.objects.filter(pk=e.pk, queued_at=e.queued_at).exists()
        assert e.reserved_at is None or QueueEntry.objects.filter(pk=e.pk, reserved_at=e.reserved_at).exists()
    later = timezone.now()
    QueueEntry.objects.filter(image_id=first.pk).update(reserved_at=later)  # by the ORM
    assert list(
        QueueEntry.objects.filter(reserved_at__isnull=False).order_by("reserved_at").values_list("image_id", flat=True)
    ) == [second.pk, first.pk]
    assert not QueueEntry.objects.filter(reserved_at__gt=later).exists()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL stores timestamps as such, not as text")
def test_migration_0032_drops_the_offset_sqlite_kept_on_queue_times(make_batch, manager, labeler, project):
    """Rows queued before the queue's times were adapted kept "+00:00" in their text on SQLite."""
    batch = queued(make_batch, manager, n=2)
    entry = QueueEntry.objects.filter(batch=batch).order_by("pk").first()
    text = str(entry.queued_at.replace(tzinfo=None))
    with connection.cursor() as cursor:  # as the old enqueue wrote it
        cursor.execute("UPDATE boards_queueentry SET queued_at = %s WHERE id = %s", [f"{text}+00:00", entry.pk])
    assert not QueueEntry.objects.filter(pk=entry.pk, queued_at=entry.queued_at).exists()

    class Editor:  # what RunPython hands the function: its connection, and execute()
        def __init__(self):
            self.connection = connection

        def execute(self, sql, params=()):
            with connection.cursor() as cursor:
                cursor.execute(sql, params)

    migration = importlib.import_module("boards.migrations.0032_queue_times_without_offset_sqlite")
    migration.drop_offsets(django_apps, Editor())
    assert QueueEntry.objects.filter(pk=entry.pk, queued_at=entry.queued_at).exists()
    assert QueueEntry.objects.get(pk=entry.pk).queued_at == entry.queued_at


def test_an_image_finished_while_a_finish_runs_is_left_for_the_next_one(
    make_batch, manager, labeler, project, car, monkeypatch
):
    """The finish reads what is done, then locks those batches: an image done in between (a save in
    another tab) is not taken with them, unchecked, but left for the next finish, which sends its
    batch on."""
    from boards.services import queue

    first, second = queued(make_batch, manager, n=1), queued(make_batch, manager, n=1)
    a, b = serve(labeler, project), serve(labeler, project)
    assert (a.batch.pk, b.batch.pk) == (first.pk, second.pk)
    label(a, labeler, car)
    real_atomic = queue.transaction.atomic

    def done_meanwhile(*args, **kwargs):
        monkeypatch.setattr(queue.transaction, "atomic", real_atomic)
        label(b, labeler, car)
        return real_atomic(*args, **kwargs)

    monkeypatch.setattr(queue.transaction, "atomic", done_meanwhile)
    services.finish_queued(actor=labeler)
    assert Batch.objects.get(pk=first.pk).status != BatchStatus.ANNOTATING
    assert QueueEntry.objects.filter(image=b.pk).exists()
    services.finish_queued(actor=labeler)
    assert not QueueEntry.objects.exists()
    assert Batch.objects.get(pk=second.pk).status != BatchStatus.ANNOTATING
